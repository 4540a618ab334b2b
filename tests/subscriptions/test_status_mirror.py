"""The status mirror under Stripe's delivery habits: duplicated, late and same-second
subscription events change the status only forward, and what changed is announced once."""

from __future__ import annotations

import uuid

import httpx
import pytest
import stripe

from billing_contracts.billing_subscriptions import (
    STRIPE_SUBSCRIPTIONS,
    StripeSubscriptionSnapshot,
    StripeSubscriptionUpdated,
)
from billing_contracts.subscriptions_subscriptions import SUBSCRIPTIONS
from billing_devstack import Infra
from tests.helpers.agencies import Agency
from tests.helpers.databases import connect
from tests.helpers.kafka import publish, read_topic
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import (
    on_account,
    started,
    subscribed_workspace,
    subscription_status,
)

pytestmark = [pytest.mark.integration]


def stripe_says(
    agency: Agency, stripe_subscription_id: str, status: str, created: int
) -> StripeSubscriptionUpdated:
    """What webhook-ingest publishes for ``customer.subscription.updated``."""
    return StripeSubscriptionUpdated(
        agency_id=agency.agency_id,
        payload=StripeSubscriptionSnapshot(
            stripe_event_id=f"evt_{uuid.uuid4().hex[:24]}",
            stripe_created=created,
            stripe_account_id=agency.account_id,
            subscription_id=stripe_subscription_id,
            status=status,
        ),
    )


async def status_changes(infra: Infra, subscription_id: str) -> list[tuple[str | None, str]]:
    changes = []
    for record in await read_topic(infra.kafka_bootstrap, SUBSCRIPTIONS.name):
        if record.key == subscription_id.encode():
            event = SUBSCRIPTIONS.decode(record.value or b"")
            if event.type == "subscription.status_changed":
                payload = event.payload
                changes.append((payload.previous_status, payload.status))  # type: ignore[attr-defined]
    return changes


async def test_only_newer_events_move_the_status_and_same_second_ones_ask_stripe(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    infra: Infra,
) -> None:
    workspace_id, product_id, first = await subscribed_workspace(subscriptions, catalog, agency)
    second = await started(subscriptions, agency, workspace_id, product_id)
    opts = on_account(agency)
    created = {
        body["id"]: stripe_sdk.v1.subscriptions.retrieve(
            body["stripe_subscription_id"], options=opts
        ).created
        for body in (first, second)
    }

    def says(body: dict[str, str], status: str, after: int) -> StripeSubscriptionUpdated:
        return stripe_says(
            agency, body["stripe_subscription_id"], status, created[body["id"]] + after
        )

    overdue = says(first, "past_due", 10)
    await publish(
        infra.kafka_bootstrap,
        STRIPE_SUBSCRIPTIONS,
        overdue,
        overdue,  # delivered twice
        says(first, "active", 5),  # older than what was applied
        says(first, "unpaid", 20),  # marker: everything before it was handled
        # Stripe still says active, so a same-second "past_due" must not win.
        says(second, "past_due", 0),
        says(second, "unpaid", 1),
    )

    async def markers_applied() -> bool:
        statuses = [
            await subscription_status(subscriptions, agency, workspace_id, body["id"])
            for body in (first, second)
        ]
        return statuses == ["unpaid", "unpaid"]

    await eventually(markers_applied, within=60)

    async def announced() -> bool:
        return len(await status_changes(infra, first["id"])) >= 2 and bool(
            await status_changes(infra, second["id"])
        )

    await eventually(announced, within=30)
    assert await status_changes(infra, first["id"]) == [
        ("active", "past_due"),
        ("past_due", "unpaid"),
    ]
    assert await status_changes(infra, second["id"]) == [("active", "unpaid")]


async def test_a_canceled_subscription_stays_canceled(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    infra: Infra,
) -> None:
    workspace_id, _, body = await subscribed_workspace(subscriptions, catalog, agency)
    cancel = f"/v1/workspaces/{workspace_id}/subscriptions/{body['id']}/cancel"
    assert (await subscriptions.post(cancel, headers=agency.admin)).status_code == 200
    late = stripe_says(agency, body["stripe_subscription_id"], "active", 2**40)
    await publish(infra.kafka_bootstrap, STRIPE_SUBSCRIPTIONS, late)

    async def handled() -> bool:
        conn = await connect(infra.database_url)
        try:
            found = await conn.fetchval(
                "SELECT count(*) FROM subscriptions.inbox WHERE event_id = $1", late.event_id
            )
        finally:
            await conn.close()
        return bool(found)

    await eventually(handled, within=60)
    assert await subscription_status(subscriptions, agency, workspace_id, body["id"]) == "canceled"
