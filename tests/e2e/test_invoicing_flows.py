"""Step 3, "What clients see" and "What happens when something goes wrong", over the Stripe
emulator: each state Stripe reaches becomes visible through our API once Stripe has sent its
webhook (Stripe → webhook-ingest → Kafka → the invoice mirror). How soon (the target is within
a second) is a figure printed by ``bench/invoice_states.py``, not a deadline asserted here.

Stripe is driven as the client's browser and the agency's Stripe dashboard would drive it:
paying the hosted invoice, updating the card, refunding, answering a dispute."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import stripe

from invoicing.rules import application_fee_cents
from tests.invoicing.fixtures import agency, catalog, emulator, invoicing, stripe_sdk
from tests.invoicing.workspaces import register_workspace
from tests.support.agencies import Agency
from tests.support.tokens import Tokens
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
__all__ = ["agency", "catalog", "emulator", "invoicing", "stripe_sdk"]


@pytest.fixture(scope="module")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client


STATE_DEADLINE = 30.0
"""Seconds after which a state Stripe reached counts as lost rather than late."""


@dataclass(frozen=True)
class Client:
    """A client workspace of the agency, with its Stripe customer on the agency's account."""

    agency: Agency
    workspace_id: str
    customer_id: str
    admin: dict[str, str]
    portal: dict[str, str]

    @property
    def options(self) -> Any:
        return {"stripe_account": self.agency.account_id}


async def _client_of(agency: Agency, sdk: stripe.StripeClient, tokens: Tokens) -> Client:
    workspace_id = f"ws-{uuid.uuid4().hex[:10]}"
    options: Any = {"stripe_account": agency.account_id}
    customer = await sdk.v1.customers.create_async(
        params={
            "email": "billing@client.example",
            "metadata": {"agency_id": agency.agency_id, "workspace_id": workspace_id},
        },
        options=options,
    )
    return Client(
        agency,
        workspace_id,
        customer.id,
        agency.admin,
        tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id]),
    )


async def _shows(
    invoicing: httpx.AsyncClient,
    client: Client,
    stripe_invoice_id: str,
    expected: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """Wait (at most ``STATE_DEADLINE``) until the portal shows the invoice as expected."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        response = await invoicing.get(
            f"/v1/portal/workspaces/{client.workspace_id}/invoices", headers=client.portal
        )
        listed = {i["stripe_invoice_id"]: i for i in response.json()["data"]}
        found.update(listed.get(stripe_invoice_id) or {})
        return stripe_invoice_id in listed and expected(listed[stripe_invoice_id])

    await eventually(check, within=STATE_DEADLINE)
    return found


async def _charge_for_project(
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    tokens: Tokens,
    amount: int,
) -> tuple[Client, str]:
    """The agency registers a client workspace and charges it for a project through our API;
    the workspace's Stripe customer is the one subscriptions made for it."""
    workspace_id = await register_workspace(subscriptions, agency)
    charged: list[httpx.Response] = []

    async def sent() -> bool:  # once catalog's profile reached invoicing, the gate is open
        charged[:] = [
            await invoicing.post(
                f"/v1/workspaces/{workspace_id}/invoices",
                json={"description": "Custom build", "amount_cents": amount},
                headers=agency.admin,
            )
        ]
        return charged[0].status_code != 409

    await eventually(sent, within=30)
    assert charged[0].status_code == 201, charged[0].text
    invoice = charged[0].json()
    assert invoice["status"] == "open"
    assert invoice["application_fee_cents"] == application_fee_cents(amount)
    portal = tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id])
    client = Client(agency, workspace_id, "", agency.admin, portal)
    return client, str(invoice["stripe_invoice_id"])


async def _pay(sdk: stripe.StripeClient, client: Client, invoice_id: str, card: str) -> None:
    """The client pays on the hosted invoice page with ``card``."""
    await sdk.v1.invoices.pay_async(
        invoice_id, params={"payment_method": card}, options=client.options
    )


async def _charge_of(sdk: stripe.StripeClient, client: Client, invoice_id: str) -> Any:
    payments = await sdk.v1.invoice_payments.list_async(
        params={"invoice": invoice_id}, options=client.options
    )
    intent_id = payments.data[0].payment.payment_intent
    assert isinstance(intent_id, str)
    intent = await sdk.v1.payment_intents.retrieve_async(intent_id, options=client.options)
    assert isinstance(intent.latest_charge, str)
    return await sdk.v1.charges.retrieve_async(intent.latest_charge, options=client.options)


async def test_pay_then_refund_partly_then_fully(
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    client, invoice_id = await _charge_for_project(
        invoicing, subscriptions, agency, tokens, 480_000
    )
    shown = await _shows(invoicing, client, invoice_id, lambda i: i["status"] == "open")
    assert shown["pay_url"] == shown["hosted_invoice_url"] is not None
    assert shown["application_fee_cents"] == 2_400
    assert shown["kind"] == "one_off"

    await _pay(stripe_sdk, client, invoice_id, "pm_card_visa")
    paid = await _shows(invoicing, client, invoice_id, lambda i: i["status"] == "paid")
    assert paid["pay_url"] is None
    assert paid["amount_paid_cents"] == 480_000
    charge = await _charge_of(stripe_sdk, client, invoice_id)
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


async def _subscribe(sdk: stripe.StripeClient, client: Client, card: str) -> Any:
    """A monthly subscription on the agency's account with the platform's 0.5 % fee."""
    price = await sdk.v1.prices.create_async(
        params={
            "currency": "usd",
            "unit_amount": 250_000,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Automation retainer"},
        },
        options=client.options,
    )
    attached = await sdk.v1.payment_methods.attach_async(
        card, params={"customer": client.customer_id}, options=client.options
    )
    return await sdk.v1.subscriptions.create_async(
        params={
            "customer": client.customer_id,
            "items": [{"price": price.id}],
            "application_fee_percent": 0.5,
            "default_payment_method": attached.id,
            "metadata": {
                "agency_id": client.agency.agency_id,
                "workspace_id": client.workspace_id,
            },
        },
        options=client.options,
    )


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
    client = await _client_of(agency, stripe_sdk, tokens)
    subscription = await _subscribe(stripe_sdk, client, "pm_card_visa")
    first = subscription.latest_invoice
    paid = await _shows(invoicing, client, first, lambda i: i["status"] == "paid")
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
    await _pay(stripe_sdk, client, renewal.id, card.id)
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
    client, invoice_id = await _charge_for_project(invoicing, subscriptions, agency, tokens, 90_000)
    await _pay(stripe_sdk, client, invoice_id, "pm_card_createDispute")
    # The dispute and the payment come on different topics: either may show first.
    disputed = await _shows(
        invoicing, client, invoice_id, lambda i: i["status"] == "paid" and i["dispute"] is not None
    )
    assert disputed["dispute"]["status"] == "needs_response"
    assert disputed["dispute"]["amount_cents"] == 90_000
    charge = await _charge_of(stripe_sdk, client, invoice_id)
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
