"""One of each object the emulator serves, made through the SDK as the services make them."""

from __future__ import annotations

from typing import Any

import stripe

from tests.helpers.stripe_emulator.emulator import Emulator, onboarded_account, unexpanded


def one_of_each(client: stripe.StripeClient, emulator: Emulator) -> dict[str, Any]:
    """One of each object type, made through the SDK on a connected account."""
    account_id = onboarded_account(client, emulator)
    opts: stripe.RequestOptions = {"stripe_account": account_id}
    v1 = client.v1
    made: dict[str, Any] = {"account": v1.accounts.retrieve(account_id)}
    made["account_link"] = v1.account_links.create(
        params={
            "account": account_id,
            "type": "account_onboarding",
            "refresh_url": "https://example.com/r",
            "return_url": "https://example.com/d",
        }
    )
    made["webhook_endpoint"] = v1.webhook_endpoints.create(
        params={"url": "http://127.0.0.1:9/none", "enabled_events": ["*"]}
    )
    product = made["product"] = v1.products.create(params={"name": "Retainer"}, options=opts)
    price = made["price"] = v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 100_000,
            "recurring": {"interval": "month"},
        },
        options=opts,
    )
    customer = made["customer"] = v1.customers.create(
        params={"email": "client@example.com", "name": "Client"}, options=opts
    )
    made["payment_method"] = v1.payment_methods.attach(
        "pm_card_visa", params={"customer": customer.id}, options=opts
    )
    made["setup_intent"] = v1.setup_intents.create(
        params={"customer": customer.id, "payment_method": "pm_card_visa", "confirm": True},
        options=opts,
    )
    sub = made["subscription"] = v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "default_payment_method": made["payment_method"].id,
            "application_fee_percent": 10,
        },
        options=opts,
    )
    made["subscription_item"] = sub["items"].data[0]
    invoice = made["invoice"] = v1.invoices.retrieve(unexpanded(sub.latest_invoice), options=opts)
    made["line_item"] = invoice.lines.data[0]
    made["invoiceitem"] = v1.invoice_items.create(
        params={"customer": customer.id, "amount": 500, "currency": "usd"}, options=opts
    )
    payment = made["invoice_payment"] = v1.invoice_payments.list(
        params={"invoice": invoice.id}, options=opts
    ).data[0]
    pi = made["payment_intent"] = v1.payment_intents.retrieve(
        unexpanded(payment.payment.payment_intent), options=opts
    )
    charge = made["charge"] = v1.charges.retrieve(unexpanded(pi.latest_charge), options=opts)
    made["balance_transaction"] = v1.balance_transactions.retrieve(
        unexpanded(charge.balance_transaction), options=opts
    )
    made["application_fee"] = v1.application_fees.retrieve(unexpanded(charge.application_fee))
    made["refund"] = v1.refunds.create(
        params={"charge": charge.id, "amount": 500, "refund_application_fee": True}, options=opts
    )
    made["fee_refund"] = v1.application_fees.refunds.list(unexpanded(charge.application_fee)).data[
        0
    ]
    disputed = v1.payment_intents.create(
        params={
            "amount": 5000,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": "pm_card_createDispute",
            "confirm": True,
        },
        options=opts,
    )
    made["dispute"] = v1.disputes.list(params={"payment_intent": disputed.id}, options=opts).data[0]
    made["balance"] = v1.balance.retrieve(options=opts)
    emulator.advance(3 * 86400)
    made["payout"] = v1.payouts.list(options=opts).data[0]
    made["event"] = v1.events.list(options=opts).data[0]
    made["billing_portal.session"] = v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://example.com"}, options=opts
    )
    made["plan"] = v1.plans.retrieve(price.id, options=opts)
    made["subscription_schedule"] = v1.subscription_schedules.create(
        params={"from_subscription": sub.id}, options=opts
    )
    made["deleted_account"] = v1.accounts.delete(v1.accounts.create(params={"type": "express"}).id)
    made["deleted_webhook_endpoint"] = v1.webhook_endpoints.delete(made["webhook_endpoint"].id)
    made["deleted_customer"] = v1.customers.delete(
        v1.customers.create(options=opts).id, options=opts
    )
    made["deleted_product"] = v1.products.delete(
        v1.products.create(params={"name": "x"}, options=opts).id, options=opts
    )
    return made
