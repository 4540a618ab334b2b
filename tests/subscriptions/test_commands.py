"""Starting a subscription leaves nothing half-made on Stripe: the same ``Idempotency-Key``
after a crash between Stripe's answer and the commit ends in the one Stripe subscription,
and the sweeper finishes a subscription (and the workspace's first customer) a crash left
pending."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from subscriptions.models import kit_tables
from subscriptions.service.commands import sweeper
from subscriptions.settings import SubscriptionsSettings
from tests.helpers.agencies import Agency
from tests.helpers.crashes import (
    Request,
    crash_before_commit,
    pending_commands_of,
    posting,
    retried_after_crash,
    sweep_once,
)
from tests.helpers.databases import connect
from tests.helpers.workspaces import listed, on_account, register_workspace, subscribed_workspace

pytestmark = [pytest.mark.integration]


def _start(
    subscriptions: httpx.AsyncClient, agency: Agency, workspace_id: str, product_id: str
) -> Request:
    path = f"/v1/workspaces/{workspace_id}/subscriptions"
    return posting(subscriptions, path, {"product_id": product_id}, agency.admin)


async def _second_subscription(
    subscriptions: httpx.AsyncClient, catalog: httpx.AsyncClient, agency: Agency
) -> tuple[str, dict[str, Any], Request]:
    """A workspace with a subscription (its answer), and the request starting a second one."""
    workspace_id, product_id, first = await subscribed_workspace(subscriptions, catalog, agency)
    return workspace_id, first, _start(subscriptions, agency, workspace_id, product_id)


async def _first_subscription(
    subscriptions: httpx.AsyncClient, catalog: httpx.AsyncClient, agency: Agency
) -> tuple[str, Request]:
    """A workspace with no customer yet, and the request starting its first subscription."""
    _, product_id, _ = await subscribed_workspace(subscriptions, catalog, agency)
    workspace_id = await register_workspace(subscriptions, agency)
    return workspace_id, _start(subscriptions, agency, workspace_id, product_id)


def _on_stripe(sdk: stripe.StripeClient, agency: Agency, customer: str) -> list[str]:
    params: Any = {"customer": customer, "status": "all", "limit": 100}
    found = sdk.v1.subscriptions.list(params=params, options=on_account(agency))
    return sorted(s.id for s in found.data)


async def test_the_same_key_after_a_crash_before_the_commit_makes_one_subscription(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, first, start = await _second_subscription(subscriptions, catalog, agency)
    retried = await retried_after_crash(infra.database_url, "subscriptions", start)
    assert retried.status_code == 201, retried.text
    made = retried.json()
    assert _on_stripe(stripe_sdk, agency, first["stripe_customer_id"]) == sorted(
        [first["stripe_subscription_id"], made["stripe_subscription_id"]]
    )
    found = await listed(subscriptions, agency, workspace_id)
    assert sorted(s["id"] for s in found) == sorted([first["id"], made["id"]])


def _customers_of(sdk: stripe.StripeClient, agency: Agency, workspace_id: str) -> list[str]:
    params: Any = {"limit": 100}
    return [
        c.id
        for c in sdk.v1.customers.list(params=params, options=on_account(agency)).data
        if (c.metadata.to_dict() if c.metadata else {}).get("workspace_id") == workspace_id
    ]


async def test_the_same_key_after_a_crash_makes_one_customer_and_one_subscription(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, start = await _first_subscription(subscriptions, catalog, agency)
    retried = await retried_after_crash(infra.database_url, "subscriptions", start)
    assert retried.status_code == 201, retried.text
    made = retried.json()
    assert _customers_of(stripe_sdk, agency, workspace_id) == [made["stripe_customer_id"]]
    assert _on_stripe(stripe_sdk, agency, made["stripe_customer_id"]) == [
        made["stripe_subscription_id"]
    ]


async def _records(infra: Infra, agency: Agency) -> list[dict[str, object]]:
    return await pending_commands_of(infra.database_url, "subscriptions", agency.agency_id)


async def test_the_sweeper_finishes_a_subscription_a_crash_left_pending(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, first, start = await _second_subscription(subscriptions, catalog, agency)
    await crash_before_commit(infra.database_url, "subscriptions", start)
    records = await _records(infra, agency)
    [left] = [r for r in records if r["status"] == "pending"]

    assert await sweep_once(SubscriptionsSettings, kit_tables, sweeper, infra) >= 1
    records = await _records(infra, agency)
    assert {r["id"]: r["status"] for r in records}[left["id"]] == "done"

    found = await listed(subscriptions, agency, workspace_id)
    assert sorted(s["id"] for s in found) == sorted([first["id"], str(left["id"])])
    [swept] = [s for s in found if s["id"] == left["id"]]
    assert _on_stripe(stripe_sdk, agency, first["stripe_customer_id"]) == sorted(
        [first["stripe_subscription_id"], swept["stripe_subscription_id"]]
    )


async def test_the_sweeper_records_the_customer_of_a_first_subscription_a_crash_left(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, start = await _first_subscription(subscriptions, catalog, agency)
    await crash_before_commit(infra.database_url, "subscriptions", start)
    records = await _records(infra, agency)
    left = {r["kind"]: r for r in records if r["status"] == "pending"}
    assert set(left) == {"create_customer", "start_subscription"}

    assert await sweep_once(SubscriptionsSettings, kit_tables, sweeper, infra) >= 2

    on_stripe = _customers_of(stripe_sdk, agency, workspace_id)
    conn = await connect(infra.database_url)
    try:
        recorded = await conn.fetch(
            "SELECT stripe_customer_id FROM subscriptions.billing_customers"
            " WHERE workspace_id = $1",
            workspace_id,
        )
    finally:
        await conn.close()
    assert [r["stripe_customer_id"] for r in recorded] == on_stripe
    assert len(on_stripe) == 1
    [swept] = await listed(subscriptions, agency, workspace_id)
    assert (swept["id"], swept["stripe_customer_id"]) == (
        left["start_subscription"]["id"],
        on_stripe[0],
    )
