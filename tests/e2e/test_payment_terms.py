"""Payment terms through the whole stack: a subscription lives from the start with its first
invoice open until it is due; a client who pays with a card days later has renewals charged
to it from then on; a client who pays by bank transfer gets each renewal open with Pay now,
and the subscription goes past due once a renewal passes its due date. The subscription's
latest invoice follows each invoice's events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.e2e.subscriptions import (
    MONTH_AND_A_BIT,
    advance,
    answer,
    newest_invoice,
    pay_now,
    renewals,
    until,
)
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


@pytest.fixture(scope="module")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:
        yield client


async def portal_shows(
    invoicing: httpx.AsyncClient,
    portal: dict[str, str],
    workspace_id: str,
    status: str,
    owing: int = 1,
) -> dict[str, Any]:
    """The client's billing overview once it shows the one subscription with ``status`` and
    ``owing`` outstanding invoices (the subscription's and the invoices' events reach the
    portal by different consumers)."""
    billing: dict[str, Any] = {}

    async def shows() -> bool:
        nonlocal billing
        response = await invoicing.get(
            f"/v1/portal/workspaces/{workspace_id}/billing", headers=portal
        )
        assert response.status_code == 200, response.text
        billing = response.json()
        shown = [s["status"] for s in billing["subscriptions"]]
        return shown == [status] and len(billing["outstanding_invoices"]) == owing

    await eventually(shows, within=60)
    return billing


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    return await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)


async def test_paid_by_card_days_later_then_renewals_charge_that_card(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    agency: Agency,
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency, amount_cents=250_000)
    body = await started(subscriptions, agency, workspace_id, product_id)
    assert body["status"] == "active"
    assert (body["collection_method"], body["days_until_due"]) == ("send_invoice", 30)
    first = body["latest_invoice"]
    assert first["status"] == "open"
    assert first["hosted_invoice_url"]
    stripe_id = body["stripe_subscription_id"]
    on_stripe = stripe_sdk.v1.subscriptions.retrieve(stripe_id, options=on_account(agency))
    assert (on_stripe.collection_method, on_stripe.days_until_due) == ("send_invoice", 30)

    await advance(emulator, 5 * DAY)  # the client opens the invoice five days later
    assert (await answer(subscriptions, agency, workspace_id, body["id"]))["status"] == "active"
    await pay_now(first["hosted_invoice_url"])
    paid = await until(
        subscriptions,
        agency,
        workspace_id,
        body["id"],
        status="active",
        latest_invoice__status="paid",
        collection_method="charge_automatically",
    )
    assert paid["latest_invoice"]["id"] == first["id"]
    on_stripe = stripe_sdk.v1.subscriptions.retrieve(stripe_id, options=on_account(agency))
    assert on_stripe.collection_method == "charge_automatically"

    await advance(emulator, MONTH_AND_A_BIT)
    assert renewals(stripe_sdk, agency, stripe_id) == [
        "subscription_cycle:paid",
        "subscription_create:paid",
    ]
    renewal = newest_invoice(stripe_sdk, agency, stripe_id)
    assert renewal.amount_paid == 250_000
    current = await until(
        subscriptions,
        agency,
        workspace_id,
        body["id"],
        latest_invoice__id=renewal.id,
        latest_invoice__status="paid",
    )
    assert current["status"] == "active"


async def test_a_client_paying_by_transfer_gets_each_renewal_open_then_past_due(
    subscriptions: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    agency: Agency,
    tokens: Tokens,
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    portal = tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id])
    product_id = await create_product(catalog, agency, amount_cents=120_000)
    body = await started(subscriptions, agency, workspace_id, product_id, days_until_due=10)
    assert body["days_until_due"] == 10
    stripe_id = body["stripe_subscription_id"]
    first = body["latest_invoice"]

    # Before anything is paid the client sees the subscription beside the invoice to pay.
    billing = await portal_shows(invoicing, portal, workspace_id, "active")
    (shown,) = billing["subscriptions"]
    assert (shown["amount_cents"], shown["cadence"]) == (120_000, "monthly")
    assert shown["product_name"]
    assert shown["current_period_end"] is not None
    (owed,) = billing["outstanding_invoices"]
    assert owed["stripe_invoice_id"] == first["id"]
    assert owed["pay_url"] == first["hosted_invoice_url"]
    stripe_sdk.v1.invoices.pay(  # the bank transfer arrived: paid outside Stripe
        first["id"], params={"paid_out_of_band": True}, options=on_account(agency)
    )
    await until(subscriptions, agency, workspace_id, body["id"], latest_invoice__status="paid")

    await advance(emulator, MONTH_AND_A_BIT)
    renewal = newest_invoice(stripe_sdk, agency, stripe_id)
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.status == "open"
    assert renewal.hosted_invoice_url
    opened = await until(
        subscriptions,
        agency,
        workspace_id,
        body["id"],
        latest_invoice__id=renewal.id,
        latest_invoice__status="open",
    )
    assert opened["latest_invoice"]["hosted_invoice_url"] == renewal.hosted_invoice_url
    assert (opened["status"], opened["collection_method"]) == ("active", "send_invoice")

    await advance(emulator, 11 * DAY)  # past its due date, still unpaid
    await until(subscriptions, agency, workspace_id, body["id"], status="past_due")
    billing = await portal_shows(invoicing, portal, workspace_id, "past_due")
    assert [i["stripe_invoice_id"] for i in billing["outstanding_invoices"]] == [renewal.id]
