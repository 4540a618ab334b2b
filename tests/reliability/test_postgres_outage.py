"""Postgres stopped under the running services: every call answers 503 ``unavailable``
(never a 500, never a 2xx without a row, nothing made on Stripe either), and the same
processes answer normally again once Postgres is back — no restart."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import pytest

from billing_devstack.postgres import EmbeddedPostgres
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.databases import connect
from tests.helpers.reliability.rig import Rig
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.deliveries import stored_rows
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    body_of,
    paid_invoice_event,
    signed,
)
from tests.helpers.workspaces import new_workspace_id, workspace_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Call = Callable[[], Awaitable[httpx.Response]]


def calls(
    clients: dict[str, httpx.AsyncClient], agency: Agency, workspace_id: str, webhook_id: str
) -> dict[str, Call]:
    """A read and a write of each service, for one agency."""
    catalog, subscriptions = clients["catalog"], clients["subscriptions"]
    invoicing, revenue, ingest = clients["invoicing"], clients["revenue"], clients["webhook-ingest"]
    owner, admin = agency.owner, agency.admin
    event = {**paid_invoice_event(agency.agency_id, agency.account_id), "id": webhook_id}
    body = body_of(event)
    product = {"name": "Outage retainer", "cadence": "monthly", "amount_cents": 9_900}
    invoice = {"description": "Outage project", "amount_cents": 12_300}
    return {
        "catalog read": lambda: catalog.get("/v1/connect", headers=owner),
        "catalog write": lambda: catalog.post("/v1/products", json=product, headers=admin),
        "subscriptions write": lambda: subscriptions.put(
            f"/v1/workspaces/{workspace_id}", json=workspace_body(), headers=admin
        ),
        "subscriptions read": lambda: subscriptions.get(
            f"/v1/workspaces/{workspace_id}/subscriptions", headers=admin
        ),
        "invoicing read": lambda: invoicing.get(
            f"/v1/workspaces/{workspace_id}/invoices", headers=admin
        ),
        "invoicing write": lambda: invoicing.post(
            f"/v1/workspaces/{workspace_id}/invoices", json=invoice, headers=admin
        ),
        "revenue read": lambda: revenue.get(
            "/v1/revenue/summary", params={"from": "2020-01-01", "to": "2099-12-31"}, headers=owner
        ),
        "webhook": lambda: ingest.post(
            "/stripe/webhooks/connect",
            content=body,
            headers=signed(body, CONNECT_SECRET),
        ),
    }


@pytest.mark.timeout(300)
async def test_services_answer_503_while_postgres_is_down_and_recover_without_a_restart(
    rig: Rig,
) -> None:
    clients, stack, infra = rig.clients, rig.stack, rig.infra
    postgres = stack.postgres
    if not isinstance(postgres, EmbeddedPostgres):
        pytest.skip("Postgres is not the embedded one this session started")
    agency = await onboarded_agency(
        clients["catalog"], rig.emulator, rig.tokens, infra.kafka_bootstrap
    )
    workspace_id = new_workspace_id()
    webhook_id = f"evt_outage_{uuid.uuid4().hex[:16]}"
    to_call = calls(clients, agency, workspace_id, webhook_id)
    pids = {name: process.pid for name, process in stack.services.items()}

    await asyncio.to_thread(postgres.stop)
    down_at = time.monotonic()
    answers: dict[str, Counter[tuple[int, str]]] = {name: Counter() for name in to_call}
    try:
        for _ in range(3):  # pooled connections broken, then new ones refused
            for name, call in to_call.items():
                response = await call()
                code = response.json().get("error", {}).get("code", "")
                answers[name][response.status_code, code] += 1
    finally:
        await asyncio.to_thread(postgres.spawn)
        await asyncio.to_thread(postgres.wait_ready)
    outage = time.monotonic() - down_at
    assert answers == {name: Counter({(503, "unavailable"): 3}) for name in to_call}

    answered: set[str] = set()

    async def recovered() -> bool:
        """Each call once more until it succeeds (a write while a replica catches up with
        the new agency may answer 409 first); a write that succeeded is not repeated."""
        for name, call in to_call.items():
            if name not in answered:
                response = await call()
                assert response.status_code != 500, (name, response.text)
                if response.status_code in (200, 201):
                    answered.add(name)
        return answered == set(to_call)

    began = time.monotonic()
    await eventually(recovered, within=60)
    back = time.monotonic() - began
    print(f"\nPostgres down {outage:.1f}s; every call answered {back:.1f}s after it was back")
    assert {name: process.pid for name, process in stack.services.items()} == pids

    # What was refused during the outage left nothing behind, here or on Stripe; the
    # writes made after the recovery are the only ones.
    products = rig.sdk.v1.products.list(options={"stripe_account": agency.account_id or ""})
    listed = (await clients["catalog"].get("/v1/products", headers=agency.admin)).json()["data"]
    assert len(products.data) == len(listed) == 1
    invoices = (await to_call["invoicing read"]()).json()["data"]
    assert len(invoices) == 1
    conn = await connect(infra.database_url)
    try:
        assert await stored_rows(conn, webhook_id) == 1
    finally:
        await conn.close()
