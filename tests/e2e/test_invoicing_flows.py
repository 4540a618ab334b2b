"""Step 3, "What clients see" and "What happens when something goes wrong", over the Stripe
emulator: each state Stripe reaches becomes visible through our API once Stripe has sent its
webhook (Stripe → webhook-ingest → Kafka → the invoice mirror). How soon (the target is within
a second) is a figure printed by ``bench/invoice_states.py``, not a deadline asserted here.

Stripe is driven as the client's browser and the agency's Stripe dashboard would drive it:
paying the hosted invoice, updating the card, refunding, answering a dispute."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import stripe

from tests.helpers.agencies import Agency
from tests.helpers.invoicing.flows import (
    STATE_DEADLINE,
    Client,
    charge_for_project,
    charge_of,
    client_of,
    pay,
    shows,
    subscribe,
)
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _shows(
    invoicing: httpx.AsyncClient,
    client: Client,
    stripe_invoice_id: str,
    expected: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """The invoice as the portal shows it once it is as expected."""
    shown, _ = await shows(invoicing, client, stripe_invoice_id, expected)
    return shown


async def test_pay_then_refund_partly_then_fully(
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    client, invoice_id = await charge_for_project(invoicing, subscriptions, agency, tokens, 480_000)
    shown = await _shows(invoicing, client, invoice_id, lambda i: i["status"] == "open")
    assert shown["pay_url"] == shown["hosted_invoice_url"] is not None
    assert shown["application_fee_cents"] == 2_400
    assert shown["kind"] == "one_off"

    await pay(stripe_sdk, client, invoice_id, "pm_card_visa")
    paid = await _shows(invoicing, client, invoice_id, lambda i: i["status"] == "paid")
    assert paid["pay_url"] is None
    assert paid["amount_paid_cents"] == 480_000
    charge = await charge_of(stripe_sdk, client, invoice_id)
    assert paid["application_fee_cents"] == charge.application_fee_amount == 2_400

    await stripe_sdk.v1.refunds.create_async(
        params={"charge": charge.id, "amount": 100_000}, options=client.options
    )
    await _shows(invoicing, client, invoice_id, lambda i: i["amount_refunded_cents"] == 100_000)
    await stripe_sdk.v1.refunds.create_async(params={"charge": charge.id}, options=client.options)
    refunded = await _shows(
        invoicing, client, invoice_id, lambda i: i["amount_refunded_cents"] == 480_000
    )
    assert refunded["status"] == "paid"


def _portal_subscription(
    invoicing: httpx.AsyncClient, client: Client, status: str
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        response = await invoicing.get(
            f"/v1/portal/workspaces/{client.workspace_id}/billing", headers=client.portal
        )
        return [s["status"] for s in response.json()["subscriptions"]] == [status]

    return check


async def test_a_declined_renewal_is_past_due_until_the_card_is_updated_and_paid(
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    invoicing: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    client = await client_of(agency, stripe_sdk, tokens)
    subscription = await subscribe(stripe_sdk, client, "pm_card_visa")
    first = subscription.latest_invoice
    # A subscription invoice's fee is the charge's: its event can come after invoice.paid.
    paid = await _shows(
        invoicing,
        client,
        first,
        lambda i: i["status"] == "paid" and i["application_fee_cents"] is not None,
    )
    assert paid["kind"] == "subscription"
    assert paid["application_fee_cents"] == 1_250
    await eventually(_portal_subscription(invoicing, client, "active"), within=STATE_DEADLINE)

    declined = await stripe_sdk.v1.payment_methods.attach_async(
        "pm_card_chargeDeclined", params={"customer": client.customer_id}, options=client.options
    )
    await stripe_sdk.v1.subscriptions.update_async(
        subscription.id, params={"default_payment_method": declined.id}, options=client.options
    )
    advanced = await emulator.post("/_emulator/clock/advance", json={"seconds": 32 * 86_400})
    assert advanced.status_code == 200
    invoices = await stripe_sdk.v1.invoices.list_async(
        params={"subscription": subscription.id}, options=client.options
    )
    renewal = next(i for i in invoices.data if i.id != first)
    assert renewal.status == "open"
    assert renewal.id is not None
    overdue = await _shows(invoicing, client, renewal.id, lambda i: i["past_due"] is True)
    assert overdue["status"] == "open"
    assert overdue["pay_url"] is not None
    await eventually(_portal_subscription(invoicing, client, "past_due"), within=STATE_DEADLINE)
    billing = await invoicing.get(
        f"/v1/portal/workspaces/{client.workspace_id}/billing", headers=client.portal
    )
    assert [i["stripe_invoice_id"] for i in billing.json()["outstanding_invoices"]] == [renewal.id]

    # The client updates the card in the customer portal, then pays the open invoice.
    session = await invoicing.post(
        f"/v1/portal/workspaces/{client.workspace_id}/payment-methods/session",
        json={"return_url": "https://app.example/portal/billing"},
        headers=client.portal,
    )
    assert session.status_code == 200, session.text
    async with httpx.AsyncClient(timeout=30) as browser:
        assert (await browser.get(session.json()["url"])).status_code == 200
    card = await stripe_sdk.v1.payment_methods.attach_async(
        "pm_card_visa", params={"customer": client.customer_id}, options=client.options
    )
    await stripe_sdk.v1.subscriptions.update_async(
        subscription.id, params={"default_payment_method": card.id}, options=client.options
    )
    await pay(stripe_sdk, client, renewal.id, card.id)
    recovered = await _shows(
        invoicing, client, renewal.id, lambda i: i["status"] == "paid" and not i["past_due"]
    )
    assert recovered["pay_url"] is None
    await eventually(_portal_subscription(invoicing, client, "active"), within=STATE_DEADLINE)


@pytest.mark.parametrize(("evidence", "outcome"), [("winning", "won"), ("losing", "lost")])
async def test_a_dispute_follows_stripe_until_decided(
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    invoicing: httpx.AsyncClient,
    tokens: Tokens,
    subscriptions: httpx.AsyncClient,
    evidence: str,
    outcome: str,
) -> None:
    client, invoice_id = await charge_for_project(invoicing, subscriptions, agency, tokens, 90_000)
    await pay(stripe_sdk, client, invoice_id, "pm_card_createDispute")
    # The dispute and the payment come on different topics: either may show first.
    disputed = await _shows(
        invoicing, client, invoice_id, lambda i: i["status"] == "paid" and i["dispute"] is not None
    )
    assert disputed["dispute"]["status"] == "needs_response"
    assert disputed["dispute"]["amount_cents"] == 90_000
    charge = await charge_of(stripe_sdk, client, invoice_id)
    disputes = await stripe_sdk.v1.disputes.list_async(options=client.options)
    dispute = next(d for d in disputes.data if d.charge == charge.id)

    async def answer(text: str) -> None:
        await stripe_sdk.v1.disputes.update_async(
            dispute.id,
            params={"evidence": {"uncategorized_text": text}, "submit": True},
            options=client.options,
        )

    await answer("Signed statement of work attached.")
    await _shows(invoicing, client, invoice_id, lambda i: i["dispute"]["status"] == "under_review")
    await answer(f"{evidence}_evidence")
    decided = await _shows(
        invoicing, client, invoice_id, lambda i: i["dispute"]["status"] == outcome
    )
    assert decided["dispute"]["amount_cents"] == 90_000
