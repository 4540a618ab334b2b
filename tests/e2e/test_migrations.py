"""Moving subscriptions to another product through the whole stack: at the next renewal the
current period keeps its price and the renewal bills the new one; at once, Stripe's
proration lands on the next invoice. The platform's fee is 0.5 % of each invoice to the
cent, and the portal shows the product billed now."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.helpers.agencies import Agency
from tests.helpers.e2e.subscriptions import (
    MONTH_AND_A_BIT,
    advance,
    migrate,
    newest_invoice,
    pay_now,
    until,
    use_card,
)
from tests.helpers.revenue.money import platform_fee
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import (
    create_product,
    on_account,
    register_workspace,
    started,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


DAY = 86400


def fee_charged(sdk: stripe.StripeClient, agency: Agency, invoice_id: str) -> int:
    """The application fee Stripe took on the payment of the invoice."""
    payments = sdk.v1.invoice_payments.list(
        params={"invoice": invoice_id}, options=on_account(agency)
    ).data
    (paid,) = [p for p in payments if p.status == "paid"]
    intent = sdk.v1.payment_intents.retrieve(
        str(paid.payment.payment_intent), options=on_account(agency)
    )
    assert intent.application_fee_amount is not None
    return intent.application_fee_amount


async def paid_on(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    agency: Agency,
    amount_cents: int,
) -> tuple[str, dict[str, Any]]:
    """A workspace on a new monthly product of ``amount_cents``, its first invoice paid by
    card on the hosted page, its renewals charged to that card from then on."""
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency, amount_cents=amount_cents)
    body = await started(subscriptions, agency, workspace_id, product_id)
    use_card(sdk, agency, body["stripe_customer_id"], "pm_card_visa")
    await pay_now(body["latest_invoice"]["hosted_invoice_url"])
    await until(
        subscriptions,
        agency,
        workspace_id,
        body["id"],
        latest_invoice__status="paid",
        collection_method="charge_automatically",
    )
    return workspace_id, body


async def test_at_the_next_renewal_the_period_keeps_its_price_and_the_renewal_bills_the_new(
    subscriptions: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    agency: Agency,
    tokens: Tokens,
) -> None:
    workspace_id, body = await paid_on(subscriptions, catalog, stripe_sdk, agency, 100_000)
    old_product = body["product_id"]
    new_product = await create_product(catalog, agency, name="Retainer 2027", amount_cents=150_000)
    stripe_id = body["stripe_subscription_id"]

    moved = await migrate(subscriptions, agency, workspace_id, body["id"], product_id=new_product)
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert (answer["product_id"], answer["scheduled_product_id"]) == (old_product, new_product)
    assert answer["amount_cents"] == 100_000
    assert answer["product_name"] != "Retainer 2027"
    on_stripe = stripe_sdk.v1.subscriptions.retrieve(stripe_id, options=on_account(agency))
    assert on_stripe.schedule  # the change waits for the renewal
    assert on_stripe["items"].data[0].price.unit_amount == 100_000
    pending = stripe_sdk.v1.invoice_items.list(
        params={"customer": body["stripe_customer_id"], "pending": True},
        options=on_account(agency),
    ).data
    assert pending == []  # no proration

    await advance(emulator, MONTH_AND_A_BIT)
    renewal = newest_invoice(stripe_sdk, agency, stripe_id)
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.total == 150_000
    first = stripe_sdk.v1.invoices.retrieve(
        body["latest_invoice"]["id"], options=on_account(agency)
    )
    assert first.total == 100_000  # the old invoice stays as billed
    assert renewal.status == "paid"  # charged to the saved card
    for invoice in (first, renewal):
        assert fee_charged(stripe_sdk, agency, invoice.id) == platform_fee(invoice.total)

    now_on_new = await until(
        subscriptions,
        agency,
        workspace_id,
        body["id"],
        product_id=new_product,
        scheduled_product_id=None,
        latest_invoice__id=renewal.id,
    )
    assert (now_on_new["amount_cents"], now_on_new["product_name"]) == (150_000, "Retainer 2027")
    assert now_on_new["application_fee_percent"] == 0.5
    assert now_on_new["current_period_end"] > body["current_period_end"]

    portal = tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id])

    async def portal_shows_new_product() -> bool:
        response = await invoicing.get(
            f"/v1/portal/workspaces/{workspace_id}/billing", headers=portal
        )
        assert response.status_code == 200, response.text
        shown = response.json()["subscriptions"]
        return [(s["product_id"], s["product_name"], s["amount_cents"]) for s in shown] == [
            (new_product, "Retainer 2027", 150_000)
        ]

    await eventually(portal_shows_new_product, within=60)


async def test_at_once_stripe_prorates_on_the_next_invoice(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    agency: Agency,
) -> None:
    workspace_id, body = await paid_on(subscriptions, catalog, stripe_sdk, agency, 100_000)
    new_product = await create_product(catalog, agency, amount_cents=200_000)
    stripe_id = body["stripe_subscription_id"]
    await advance(emulator, 15 * DAY)  # halfway through the month

    moved = await migrate(
        subscriptions, agency, workspace_id, body["id"], product_id=new_product, when="now"
    )
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert (answer["product_id"], answer["scheduled_product_id"]) == (new_product, None)
    assert answer["amount_cents"] == 200_000
    prorations = stripe_sdk.v1.invoice_items.list(
        params={"customer": body["stripe_customer_id"], "pending": True},
        options=on_account(agency),
    ).data
    assert len(prorations) == 2
    assert all(item.proration for item in prorations)
    credit, charge = sorted(item.amount for item in prorations)
    assert credit < 0 < charge
    assert charge + credit > 0  # the rest of the month costs more on the new price

    await advance(emulator, MONTH_AND_A_BIT - 15 * DAY)
    renewal = newest_invoice(stripe_sdk, agency, stripe_id)
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.total == 200_000 + charge + credit
    assert renewal.status == "paid"
    assert fee_charged(stripe_sdk, agency, renewal.id) == platform_fee(renewal.total)
    again = await migrate(
        subscriptions, agency, workspace_id, body["id"], product_id=new_product, when="now"
    )
    assert again.status_code == 200, again.text  # already there: nothing more changes
    assert (
        stripe_sdk.v1.invoice_items.list(
            params={"customer": body["stripe_customer_id"], "pending": True},
            options=on_account(agency),
        ).data
        == []
    )
