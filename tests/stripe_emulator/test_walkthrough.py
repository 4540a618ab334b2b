"""A connected account from onboarding to a dispute, checked through fees and signed webhooks."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import Emulator, Receiver, expanded, unexpanded

pytestmark = pytest.mark.integration

CONNECT_SECRET = "whsec_connect_walkthrough"
PLATFORM_SECRET = "whsec_platform_walkthrough"
MONTH = 31 * 86400


def _fee_details(txn: str | stripe.BalanceTransaction | None) -> dict[str, int]:
    return {
        detail.type: detail.amount
        for detail in expanded(txn, stripe.BalanceTransaction).fee_details
    }


def test_agency_lifecycle(client: stripe.StripeClient, fresh: Emulator, receiver: Receiver) -> None:
    fresh.control(
        "POST",
        "/webhook_endpoints",
        {"url": receiver.url, "connect": True, "secret": CONNECT_SECRET},
    )
    fresh.control(
        "POST",
        "/webhook_endpoints",
        {"url": receiver.url + "?platform", "connect": False, "secret": PLATFORM_SECRET},
    )
    v1 = client.v1

    # Onboarding through the hosted page the account link points at.
    account = v1.accounts.create(params={"type": "express", "email": "agency@example.com"})
    assert account.charges_enabled is False
    link = v1.account_links.create(
        params={
            "account": account.id,
            "type": "account_onboarding",
            "refresh_url": "https://agency.example/refresh",
            "return_url": "https://agency.example/done",
        }
    )
    page = httpx.get(link.url)
    assert page.status_code == 200
    action = re.search(r"action='([^']+)'", page.text)
    assert action is not None
    done = httpx.post(fresh.url + action.group(1), follow_redirects=False)
    assert done.headers["location"] == "https://agency.example/done"
    reused = httpx.get(link.url, follow_redirects=False)
    assert reused.headers["location"] == "https://agency.example/refresh"
    account = v1.accounts.retrieve(account.id)
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (
        True,
        True,
        True,
    )
    opts: stripe.RequestOptions = {"stripe_account": account.id}

    # Catalog, customer, subscription with a 0.5 % application fee.
    product = v1.products.create(params={"name": "Monthly retainer"}, options=opts)
    price = v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 2000,
            "recurring": {"interval": "month"},
        },
        options=opts,
    )
    customer = v1.customers.create(params={"email": "client@example.com"}, options=opts)
    card = v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id}, options=opts)
    v1.customers.update(
        customer.id, params={"invoice_settings": {"default_payment_method": card.id}}, options=opts
    )
    sub = v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "application_fee_percent": 0.5,
            "expand": ["latest_invoice"],
        },
        options=opts,
    )
    assert sub.status == "active"
    latest = expanded(sub.latest_invoice, stripe.Invoice)
    assert latest.status == "paid"
    assert latest.amount_paid == 2000

    def charge_of(invoice_id: str) -> stripe.Charge:
        payment = v1.invoice_payments.list(params={"invoice": invoice_id}, options=opts).data[0]
        assert payment.status == "paid"
        pi = v1.payment_intents.retrieve(
            unexpanded(payment.payment.payment_intent),
            params={"expand": ["latest_charge.balance_transaction"]},
            options=opts,
        )
        return expanded(pi.latest_charge, stripe.Charge)

    first = charge_of(latest.id)
    txn = expanded(first.balance_transaction, stripe.BalanceTransaction)
    assert _fee_details(txn) == {"stripe_fee": 88, "application_fee": 10}
    assert (txn.amount, txn.fee, txn.net) == (2000, 98, 1902)
    fee = v1.application_fees.retrieve(unexpanded(first.application_fee))
    assert (fee.amount, fee.account, fee.charge) == (10, account.id, first.id)

    # A month later the renewal is invoiced and paid.
    fresh.advance(MONTH + 2 * 3600)
    invoices = v1.invoices.list(params={"subscription": sub.id}, options=opts).data
    assert [(i.billing_reason, i.status) for i in invoices] == [
        ("subscription_cycle", "paid"),
        ("subscription_create", "paid"),
    ]
    renewal = charge_of(invoices[0].id)
    assert _fee_details(renewal.balance_transaction) == {"stripe_fee": 88, "application_fee": 10}
    assert v1.subscriptions.retrieve(sub.id, options=opts).status == "active"

    # Refund the renewal, application fee included.
    refund = v1.refunds.create(
        params={"charge": renewal.id, "refund_application_fee": True}, options=opts
    )
    assert refund.amount == 2000
    assert v1.charges.retrieve(renewal.id, options=opts).refunded is True
    fee = v1.application_fees.retrieve(unexpanded(renewal.application_fee))
    assert (fee.amount_refunded, fee.refunded) == (10, True)
    refund_txn = v1.balance_transactions.retrieve(
        unexpanded(refund.balance_transaction), options=opts
    )
    assert (refund_txn.type, refund_txn.amount) == ("refund", -2000)

    # A one-off invoice paid by a card that is then disputed.
    v1.invoice_items.create(
        params={"customer": customer.id, "amount": 5000, "currency": "usd"}, options=opts
    )
    invoice = v1.invoices.create(
        params={
            "customer": customer.id,
            "pending_invoice_items_behavior": "include",
            "application_fee_amount": 100,
        },
        options=opts,
    )
    assert invoice.total == 5000
    paid = v1.invoices.pay(
        invoice.id, params={"payment_method": "pm_card_createDispute"}, options=opts
    )
    assert paid.status == "paid"
    disputed = charge_of(invoice.id)
    assert _fee_details(disputed.balance_transaction) == {"stripe_fee": 175, "application_fee": 100}
    dispute = v1.disputes.list(params={"charge": disputed.id}, options=opts).data[0]
    assert (dispute.status, dispute.amount) == ("needs_response", 5000)
    assert v1.charges.retrieve(disputed.id, options=opts).disputed is True
    dispute_txn = dispute.balance_transactions[0]
    assert (dispute_txn.amount, dispute_txn.fee, dispute_txn.net) == (-5000, 1500, -6500)
    closed = v1.disputes.close(dispute.id, options=opts)
    assert closed.status == "lost"

    # Webhooks: all signed like Stripe, connect events carry the account.
    expected_connect = {
        "account.updated",
        "customer.subscription.created",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice_payment.paid",
        "payment_intent.succeeded",
        "charge.succeeded",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
    }
    expected_platform = {"application_fee.created", "application_fee.refunded"}
    receiver.wait_for(
        lambda events: expected_connect | expected_platform <= {e["type"] for e in events}
    )
    verified = []
    for body, header, path in receiver.received:
        secret = PLATFORM_SECRET if path.endswith("?platform") else CONNECT_SECRET
        event = stripe.Webhook.construct_event(body.decode(), header, secret)
        verified.append((path.endswith("?platform"), event))
    connect_events = [e for platform, e in verified if not platform]
    platform_events = [e for platform, e in verified if platform]
    assert {e.account for e in connect_events} == {account.id}
    assert expected_connect <= {e.type for e in connect_events}
    assert expected_platform <= {e.type for e in platform_events}
    assert all("account" not in e for e in platform_events)
    onboarding = next(e for e in connect_events if e.type == "account.updated")
    assert onboarding.data.previous_attributes is not None
    assert onboarding.data.previous_attributes["charges_enabled"] is False
    assert onboarding.data.object["charges_enabled"] is True
    body, header, _ = receiver.received[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), header, "whsec_wrong")
