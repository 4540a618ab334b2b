"""Stripe answering 429 and 500 in bursts while products, subscriptions and one-off invoices
are made: each request is either done once (the SDK's bounded retries reuse the idempotency
key) or refused 502 ``stripe_error`` — and then nothing half-made stays, on Stripe or here.
Short bursts are absorbed by the retries; long ones exceed them; both happen below."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.reliability.rig import Rig
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import (
    create_product,
    listed,
    on_account,
    register_workspace,
    started,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

BURSTS = [(status, count) for status in (429, 500) for count in (1, 3, 4, 8)]
"""(status, how many calls in a row fail): up to three are retried away, four or more are
more than the services' three retries."""


def _outcome(response: httpx.Response) -> str:
    if response.status_code == 502:
        assert response.json()["error"]["code"] == "stripe_error", response.text
        return "refused"
    assert response.status_code == 201, response.text
    return "made"


Request = Callable[[], Awaitable[httpx.Response]]
Bursts = Callable[[list[str], Request], Awaitable[Counter[str]]]


def _post(client: httpx.AsyncClient, path: str, body: object, headers: dict[str, str]) -> Request:
    async def request() -> httpx.Response:
        return await client.post(path, json=body, headers=headers)

    return request


@pytest.fixture
async def bursts(rig: Rig) -> AsyncIterator[Bursts]:
    """Make the request once under each burst of failures on each path (POSTs only, so the
    services' own reads of Stripe are not hit); count what it made and what it refused."""
    emulator = rig.emulator

    async def run(paths: list[str], request: Request) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for path in paths:
            for status, count in BURSTS:
                spec = {"status": status, "count": count, "path": path, "method": "POST"}
                armed = await emulator.post("/_emulator/faults", json={"fail_next": [spec]})
                assert armed.status_code == 200, armed.text
                outcomes[_outcome(await request())] += 1
                assert (await emulator.delete("/_emulator/faults")).status_code == 200
        assert set(outcomes) == {"made", "refused"}, outcomes
        return outcomes

    yield run
    assert (await emulator.delete("/_emulator/faults")).status_code == 200


def _all(page: Any) -> list[dict[str, Any]]:
    return [item.to_dict() for item in page.auto_paging_iter()]


@pytest.fixture
async def agency(rig: Rig) -> Agency:
    catalog, bootstrap = rig.clients["catalog"], rig.infra.kafka_bootstrap
    return await onboarded_agency(catalog, rig.emulator, rig.tokens, bootstrap)


async def test_products_are_made_once_or_not_at_all(
    rig: Rig, agency: Agency, bursts: Bursts
) -> None:
    catalog = rig.clients["catalog"]
    body = {"name": "Burst retainer", "cadence": "monthly", "amount_cents": 7_700}

    create = _post(catalog, "/v1/products", body, agency.admin)

    outcomes = await bursts(["/v1/products", "/v1/prices"], create)

    ours = (await catalog.get("/v1/products", headers=agency.admin)).json()["data"]
    assert len(ours) == outcomes["made"]
    options = on_account(agency)
    products = _all(rig.sdk.v1.products.list(params={"limit": 100}, options=options))
    prices = _all(rig.sdk.v1.prices.list(params={"limit": 100}, options=options))
    active_products = {p["id"] for p in products if p["active"]}
    active_prices = {(p["product"], p["id"]) for p in prices if p["active"]}
    assert active_products == {p["stripe_product_id"] for p in ours}
    assert active_prices == {(p["stripe_product_id"], p["stripe_price_id"]) for p in ours}


async def test_subscriptions_are_made_once_or_not_at_all(
    rig: Rig, agency: Agency, bursts: Bursts
) -> None:
    subscriptions = rig.clients["subscriptions"]
    product_id = await create_product(rig.clients["catalog"], agency)
    workspace_id = await register_workspace(subscriptions, agency)
    first = await started(subscriptions, agency, workspace_id, product_id)

    path = f"/v1/workspaces/{workspace_id}/subscriptions"
    subscribe = _post(subscriptions, path, {"product_id": product_id}, agency.admin)

    outcomes = await bursts(["/v1/subscriptions"], subscribe)

    ours = await listed(subscriptions, agency, workspace_id)
    assert len(ours) == outcomes["made"] + 1
    options = on_account(agency)
    on_stripe = _all(
        rig.sdk.v1.subscriptions.list(params={"limit": 100, "status": "all"}, options=options)
    )
    live = {s["id"] for s in on_stripe if s["status"] not in ("canceled", "incomplete_expired")}
    assert live == {s["stripe_subscription_id"] for s in ours}
    assert first["stripe_subscription_id"] in live
    customers = _all(rig.sdk.v1.customers.list(params={"limit": 100}, options=options))
    assert len(customers) == 1  # one Stripe customer per workspace, whatever failed


async def test_one_off_invoices_are_made_once_or_not_at_all(
    rig: Rig, agency: Agency, bursts: Bursts
) -> None:
    invoicing = rig.clients["invoicing"]
    workspace_id = await register_workspace(rig.clients["subscriptions"], agency)
    body = {"description": "Burst project", "amount_cents": 4_321}

    charge = _post(invoicing, f"/v1/workspaces/{workspace_id}/invoices", body, agency.admin)

    async def replica_knows_the_agency() -> bool:
        error: dict[str, str] = (await charge()).json().get("error", {})
        return error.get("code") != "connect_required"

    await eventually(replica_knows_the_agency, within=60)  # the first one-off is made here
    outcomes = await bursts(["/v1/invoices", "/v1/invoiceitems"], charge)

    on_stripe = _all(rig.sdk.v1.invoices.list(params={"limit": 100}, options=on_account(agency)))
    assert not [i for i in on_stripe if i["status"] == "draft"]
    live = {i["id"] for i in on_stripe if i["status"] != "void"}
    assert len(live) == outcomes["made"] + 1
    assert all(i["amount_due"] == body["amount_cents"] for i in on_stripe)  # no stray items
    mirrored: set[str] = set()

    async def mirror_agrees() -> bool:
        found = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=agency.admin)
        mirrored.clear()
        mirrored.update(
            i["stripe_invoice_id"] for i in found.json()["data"] if i["status"] != "void"
        )
        return mirrored == live

    await eventually(mirror_agrees, within=60)
