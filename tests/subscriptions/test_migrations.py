"""Migrating subscriptions over HTTP against the running stack: what may move where (a
refusal changes nothing on Stripe), a waiting change dropped by moving back, and a whole
product's subscriptions moved at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency
from tests.helpers.e2e.subscriptions import migrate
from tests.helpers.subscriptions.reading import error_of, replicated_status
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import (
    create_product,
    listed,
    on_account,
    register_workspace,
    started,
    subscribed_workspace,
)

pytestmark = [pytest.mark.integration]


def on_stripe(sdk: stripe.StripeClient, agency: Agency, answer: dict[str, Any]) -> tuple[Any, ...]:
    """What Stripe bills for the subscription: (price, amount, schedule's phase prices)."""
    sub = sdk.v1.subscriptions.retrieve(
        answer["stripe_subscription_id"], options=on_account(agency)
    )
    item = sub["items"].data[0]
    phases: list[str] = []
    if sub.schedule:
        schedule = sdk.v1.subscription_schedules.retrieve(
            str(sub.schedule), options=on_account(agency)
        )
        phases = [str(phase.items[0].price) for phase in schedule.phases]
    return item.price.id, item.price.unit_amount, phases


async def price_of(catalog: httpx.AsyncClient, agency: Agency, product_id: str) -> str:
    response = await catalog.get(f"/v1/products/{product_id}", headers=agency.admin)
    assert response.status_code == 200, response.text
    price: str = response.json()["stripe_price_id"]
    return price


async def test_refusals_change_nothing(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    infra: Infra,
) -> None:
    workspace_id, _, body = await subscribed_workspace(subscriptions, catalog, agency)
    before = on_stripe(stripe_sdk, agency, body)
    one_time = await create_product(catalog, agency, cadence="one_time")
    archived = await create_product(catalog, agency)
    response = await catalog.post(f"/v1/products/{archived}/archive", headers=agency.admin)
    assert response.status_code == 200, response.text

    async def archive_replicated() -> bool:
        return await replicated_status(infra, archived) == "archived"

    await eventually(archive_replicated, within=60)
    for product_id, status, code, words in [
        (one_time, 422, "validation_error", "one-off invoice"),
        (archived, 409, "product_archived", "archived"),
        ("no-such-product", 404, "not_found", "No such product"),
    ]:
        if product_id == "no-such-product":
            refused = await subscriptions.post(
                f"/v1/workspaces/{workspace_id}/subscriptions/{body['id']}/migrate",
                json={"product_id": product_id},
                headers=agency.admin,
            )
        else:  # once the product reached subscriptions
            refused = await migrate(
                subscriptions, agency, workspace_id, body["id"], product_id=product_id, when="now"
            )
        assert refused.status_code == status, (product_id, refused.text)
        assert error_of(refused)["code"] == code
        assert words in error_of(refused)["message"]
    bad_timing = await subscriptions.post(
        f"/v1/workspaces/{workspace_id}/subscriptions/{body['id']}/migrate",
        json={"product_id": one_time, "when": "tomorrow"},
        headers=agency.admin,
    )
    assert bad_timing.status_code == 422
    assert on_stripe(stripe_sdk, agency, body) == before
    (unchanged,) = await listed(subscriptions, agency, workspace_id)
    assert (unchanged["product_id"], unchanged["scheduled_product_id"]) == (
        body["product_id"],
        None,
    )

    canceled = await subscriptions.post(
        f"/v1/workspaces/{workspace_id}/subscriptions/{body['id']}/cancel", headers=agency.admin
    )
    assert canceled.status_code == 200, canceled.text
    other = await create_product(catalog, agency, amount_cents=300_000)
    ended = await migrate(subscriptions, agency, workspace_id, body["id"], product_id=other)
    assert ended.status_code == 422, ended.text
    assert "has ended" in error_of(ended)["message"]


async def test_moving_back_before_the_renewal_drops_the_waiting_change(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, product_id, body = await subscribed_workspace(subscriptions, catalog, agency)
    new_product = await create_product(catalog, agency, amount_cents=260_000)
    old_price, new_price = (
        await price_of(catalog, agency, product_id),
        await price_of(catalog, agency, new_product),
    )

    waiting = await migrate(subscriptions, agency, workspace_id, body["id"], product_id=new_product)
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["scheduled_product_id"] == new_product
    assert on_stripe(stripe_sdk, agency, body) == (old_price, 250_000, [old_price, new_price])

    back = await migrate(subscriptions, agency, workspace_id, body["id"], product_id=product_id)
    assert back.status_code == 200, back.text
    assert (back.json()["product_id"], back.json()["scheduled_product_id"]) == (product_id, None)
    assert on_stripe(stripe_sdk, agency, body) == (old_price, 250_000, [])


async def test_a_whole_product_moves_at_the_next_renewal_then_at_once(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    tokens: Tokens,
) -> None:
    old_product = await create_product(catalog, agency, amount_cents=90_000)
    new_product = await create_product(catalog, agency, amount_cents=120_000)
    moving = []
    for _ in range(2):
        workspace_id = await register_workspace(subscriptions, agency)
        moving.append(
            (workspace_id, await started(subscriptions, agency, workspace_id, old_product))
        )
    ended_workspace = await register_workspace(subscriptions, agency)
    ended = await started(subscriptions, agency, ended_workspace, old_product)
    await subscriptions.post(
        f"/v1/workspaces/{ended_workspace}/subscriptions/{ended['id']}/cancel",
        headers=agency.admin,
    )
    new_price = await price_of(catalog, agency, new_product)
    path = f"/v1/products/{old_product}/migrate-subscriptions"

    member = tokens.headers("member", agency.agency_id)
    forbidden = await subscriptions.post(path, json={"to_product_id": new_product}, headers=member)
    assert forbidden.status_code == 403

    accepted = await subscriptions.post(
        path, json={"to_product_id": new_product}, headers=agency.admin
    )
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"subscriptions": 2}

    async def each_shows(**wanted: Any) -> bool:
        for workspace_id, _ in moving:
            (found,) = await listed(subscriptions, agency, workspace_id)
            if any(found[key] != value for key, value in wanted.items()):
                return False
        return True

    await eventually(lambda: each_shows(scheduled_product_id=new_product), within=60)
    for _, body in moving:
        assert on_stripe(stripe_sdk, agency, body)[2][-1] == new_price
    (still_ended,) = await listed(subscriptions, agency, ended_workspace)
    assert (still_ended["product_id"], still_ended["status"]) == (old_product, "canceled")

    at_once = await subscriptions.post(
        path, json={"to_product_id": new_product, "when": "now"}, headers=agency.admin
    )
    assert at_once.status_code == 202, at_once.text
    assert at_once.json() == {"subscriptions": 2}
    await eventually(
        lambda: each_shows(product_id=new_product, scheduled_product_id=None, amount_cents=120_000),
        within=60,
    )
    for _, body in moving:
        assert on_stripe(stripe_sdk, agency, body) == (new_price, 120_000, [])
    gone = await subscriptions.post(path, json={"to_product_id": new_product}, headers=agency.admin)
    assert gone.json() == {"subscriptions": 0}  # nobody left on the old product
