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
import stripe

from billing_devstack import Infra
from tests.support.agencies import Agency, onboarded_agency
from tests.support.tokens import Tokens
from tests.support.waiting import eventually
from tests.support.workspaces import (
    create_product,
    listed,
    on_account,
    register_workspace,
    started,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BURSTS = [(status, count) for status in (429, 500) for count in (1, 3, 4, 8)]
"""(status, how many calls in a row fail): up to three are retried away, four or more are
more than the services' three retries."""


@pytest.fixture
async def faulty(emulator: httpx.AsyncClient) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    async def arm(status: int, count: int, path: str) -> None:
        spec = {"status": status, "count": count, "path": path, "method": "POST"}
        armed = await emulator.post("/_emulator/faults", json={"fail_next": [spec]})
        assert armed.status_code == 200, armed.text

    yield arm
    assert (await emulator.delete("/_emulator/faults")).status_code == 200


def _outcome(response: httpx.Response) -> str:
    if response.status_code == 502:
        assert response.json()["error"]["code"] == "stripe_error", response.text
        return "refused"
    assert response.status_code == 201, response.text
    return "made"


async def _run_bursts(
    arm: Callable[..., Awaitable[None]],
    paths: list[str],
    request: Callable[[], Awaitable[httpx.Response]],
    emulator: httpx.AsyncClient,
) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for path in paths:
        for status, count in BURSTS:
            await arm(status, count, path)
            outcomes[_outcome(await request())] += 1
            assert (await emulator.delete("/_emulator/faults")).status_code == 200
    assert set(outcomes) == {"made", "refused"}, outcomes
    return outcomes


def _all(page: Any) -> list[dict[str, Any]]:
    return [item.to_dict() for item in page.auto_paging_iter()]


@pytest.fixture
async def agency(
    clients: dict[str, httpx.AsyncClient], emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    return await onboarded_agency(clients["catalog"], emulator, tokens, infra.kafka_bootstrap)


@pytest.mark.timeout(300)
async def test_products_are_made_once_or_not_at_all(
    clients: dict[str, httpx.AsyncClient],
    emulator: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    agency: Agency,
    faulty: Callable[..., Awaitable[None]],
) -> None:
    catalog = clients["catalog"]
    body = {"name": "Burst retainer", "cadence": "monthly", "amount_cents": 7_700}

    async def create() -> httpx.Response:
        return await catalog.post("/v1/products", json=body, headers=agency.admin)

    outcomes = await _run_bursts(faulty, ["/v1/products", "/v1/prices"], create, emulator)

    ours = (await catalog.get("/v1/products", headers=agency.admin)).json()["data"]
    assert len(ours) == outcomes["made"]
    options = on_account(agency)
    products = _all(sdk.v1.products.list(params={"limit": 100}, options=options))
    prices = _all(sdk.v1.prices.list(params={"limit": 100}, options=options))
    active_products = {p["id"] for p in products if p["active"]}
    active_prices = {(p["product"], p["id"]) for p in prices if p["active"]}
    assert active_products == {p["stripe_product_id"] for p in ours}
    assert active_prices == {(p["stripe_product_id"], p["stripe_price_id"]) for p in ours}


@pytest.mark.timeout(300)
async def test_subscriptions_are_made_once_or_not_at_all(
    clients: dict[str, httpx.AsyncClient],
    emulator: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    agency: Agency,
    faulty: Callable[..., Awaitable[None]],
) -> None:
    subscriptions = clients["subscriptions"]
    product_id = await create_product(clients["catalog"], agency)
    workspace_id = await register_workspace(subscriptions, agency)
    first = await started(subscriptions, agency, workspace_id, product_id)

    async def subscribe() -> httpx.Response:
        return await subscriptions.post(
            f"/v1/workspaces/{workspace_id}/subscriptions",
            json={"product_id": product_id},
            headers=agency.admin,
        )

    outcomes = await _run_bursts(faulty, ["/v1/subscriptions"], subscribe, emulator)

    ours = await listed(subscriptions, agency, workspace_id)
    assert len(ours) == outcomes["made"] + 1
    options = on_account(agency)
    on_stripe = _all(
        sdk.v1.subscriptions.list(params={"limit": 100, "status": "all"}, options=options)
    )
    live = {s["id"] for s in on_stripe if s["status"] not in ("canceled", "incomplete_expired")}
    assert live == {s["stripe_subscription_id"] for s in ours}
    assert first["stripe_subscription_id"] in live
    customers = _all(sdk.v1.customers.list(params={"limit": 100}, options=options))
    assert len(customers) == 1  # one Stripe customer per workspace, whatever failed


@pytest.mark.timeout(300)
async def test_one_off_invoices_are_made_once_or_not_at_all(
    clients: dict[str, httpx.AsyncClient],
    emulator: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    agency: Agency,
    faulty: Callable[..., Awaitable[None]],
) -> None:
    invoicing = clients["invoicing"]
    workspace_id = await register_workspace(clients["subscriptions"], agency)
    body = {"description": "Burst project", "amount_cents": 4_321}

    async def charge() -> httpx.Response:
        return await invoicing.post(
            f"/v1/workspaces/{workspace_id}/invoices", json=body, headers=agency.admin
        )

    async def replica_knows_the_agency() -> bool:
        error: dict[str, str] = (await charge()).json().get("error", {})
        return error.get("code") != "connect_required"

    await eventually(replica_knows_the_agency, within=60)  # the first one-off is made here
    outcomes = await _run_bursts(faulty, ["/v1/invoices", "/v1/invoiceitems"], charge, emulator)

    on_stripe = _all(sdk.v1.invoices.list(params={"limit": 100}, options=on_account(agency)))
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
