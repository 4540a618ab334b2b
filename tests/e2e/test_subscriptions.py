"""Step 2 of the client-billing guide through the whole stack: a workspace is registered, a
subscription starts with its first invoice open on Stripe's hosted page, the client pays it,
renewals charge on the emulator clock, a declined renewal puts the subscription past due in
our mirror — and a suspended agency's existing subscription keeps renewing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.databases import connect
from tests.helpers.e2e.subscriptions import MONTH_AND_A_BIT, advance, pay_now, renewals, use_card
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import (
    listed,
    on_account,
    start_when_replicated,
    subscribed_workspace,
    subscription_status,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    return await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)


async def paid_subscription(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    agency: Agency,
) -> tuple[str, dict[str, Any]]:
    """Register a workspace, start a subscription, pay its first invoice; active in our
    mirror."""
    workspace_id, _, body = await subscribed_workspace(
        subscriptions, catalog, agency, amount_cents=2000
    )
    assert body["status"] == "active"  # on payment terms from the start
    invoice = body["latest_invoice"]
    assert invoice["status"] == "open"
    use_card(sdk, agency, body["stripe_customer_id"], "pm_card_visa")
    await pay_now(invoice["hosted_invoice_url"])

    async def charged_from_now_on() -> bool:
        found = await listed(subscriptions, agency, workspace_id)
        (mine,) = [s for s in found if s["id"] == body["id"]]
        return bool(
            mine["status"] == "active"
            and mine["latest_invoice"]["status"] == "paid"
            and mine["collection_method"] == "charge_automatically"
        )

    await eventually(charged_from_now_on, within=60)
    return workspace_id, body


async def renews_paid(
    subscriptions: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    agency: Agency,
    workspace_id: str,
    body: dict[str, Any],
) -> None:
    """A month and a bit later the renewal invoice is paid and the subscription active, on
    Stripe and in our mirror."""
    await advance(emulator, MONTH_AND_A_BIT)
    stripe_id = body["stripe_subscription_id"]
    assert renewals(sdk, agency, stripe_id) == [
        "subscription_cycle:paid",
        "subscription_create:paid",
    ]
    assert sdk.v1.subscriptions.retrieve(stripe_id, options=on_account(agency)).status == "active"
    assert await subscription_status(subscriptions, agency, workspace_id, body["id"]) == "active"


async def webhook_received_at(infra: Infra, stripe_subscription_id: str, status: str) -> datetime:
    conn = await connect(infra.database_url)
    try:
        received: datetime | None = await conn.fetchval(
            """
            SELECT min(received_at) FROM webhook_ingest.stripe_events
            WHERE type = 'customer.subscription.updated'
              AND payload->'data'->'object'->>'id' = $1
              AND payload->'data'->'object'->>'status' = $2
            """,
            stripe_subscription_id,
            status,
        )
    finally:
        await conn.close()
    assert received is not None
    return received


async def test_paid_renewed_then_past_due_after_a_declined_renewal(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    agency: Agency,
    infra: Infra,
) -> None:
    workspace_id, body = await paid_subscription(subscriptions, catalog, stripe_sdk, agency)
    stripe_id = body["stripe_subscription_id"]
    assert renewals(stripe_sdk, agency, stripe_id) == ["subscription_create:paid"]

    await renews_paid(subscriptions, emulator, stripe_sdk, agency, workspace_id, body)

    use_card(stripe_sdk, agency, body["stripe_customer_id"], "pm_card_chargeDeclined")
    await advance(emulator, MONTH_AND_A_BIT)
    assert renewals(stripe_sdk, agency, stripe_id)[0] == "subscription_cycle:open"
    seen_at: datetime | None = None

    async def past_due() -> bool:
        nonlocal seen_at
        status = await subscription_status(subscriptions, agency, workspace_id, body["id"])
        seen_at = datetime.now(UTC)
        return status == "past_due"

    await eventually(past_due, within=60)
    assert seen_at is not None
    lag = (seen_at - await webhook_received_at(infra, stripe_id, "past_due")).total_seconds()
    print(
        f"past_due in our mirror {lag:.3f} s after its webhook was stored"
    )  # a figure, not a test
    assert lag >= 0, "past_due shown before Stripe told of it"


async def test_a_suspended_agency_s_subscription_keeps_renewing(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    agency: Agency,
    tokens: Tokens,
) -> None:
    workspace_id, body = await paid_subscription(subscriptions, catalog, stripe_sdk, agency)
    suspended = await catalog.put(
        f"/v1/agencies/{agency.agency_id}/suspension",
        json={"suspended": True, "reason": "unpaid platform fees"},
        headers=tokens.headers("platform_operator"),
    )
    assert suspended.status_code == 200, suspended.text

    async def refused() -> bool:
        response = await start_when_replicated(
            subscriptions, agency, workspace_id, body["product_id"]
        )
        return bool(response.json().get("error", {}).get("code") == "agency_suspended")

    await eventually(refused, within=60)

    await renews_paid(subscriptions, emulator, stripe_sdk, agency, workspace_id, body)
