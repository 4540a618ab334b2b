"""webhook-ingest needs no broker to store: it starts while the broker is down, answers
Stripe, keeps every event in its outbox, and publishes each exactly once when the broker is
back."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

import httpx
import pytest

from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_devstack import Infra, ManagedProcess, Stack, free_port
from tests.helpers.databases import connect, create_database, migrate
from tests.helpers.kafka import read_topic, restore_topics
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    PLATFORM_SECRET,
    body_of,
    paid_invoice_event,
    signed,
)
from webhook_ingest.rules.normalize import contract_event_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _outbox_rows(database_url: str) -> int:
    conn = await connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM webhook_ingest.outbox"))
    finally:
        await conn.close()


async def test_ingest_starts_and_stores_while_the_broker_is_down(
    stack: Stack, infra: Infra
) -> None:
    url = await create_database(infra.database_url, "nobroker")
    await asyncio.to_thread(migrate, url, ["webhook_ingest"])
    port = free_port()
    env = stack.service_env({"WEBHOOK_INGEST_PORT": str(port)})
    env.update(
        DATABASE_URL=url,
        WEBHOOK_INGEST_WORKERS="1",
        WEBHOOK_INGEST_BROKER_RETRY_MAX_SECONDS="1",
        STRIPE_WEBHOOK_SECRETS=PLATFORM_SECRET,
        STRIPE_CONNECT_WEBHOOK_SECRETS=CONNECT_SECRET,
    )
    process = ManagedProcess(
        "webhook-ingest-without-broker",
        [sys.executable, "-m", "webhook_ingest", "serve"],
        stack.state_dir / "logs" / "webhook-ingest-without-broker.log",
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    events = [paid_invoice_event(agency_id="agency-no-broker") for _ in range(5)]
    await asyncio.to_thread(stack.stop_broker)
    broker_down = True
    try:
        process.start()
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:

            async def alive() -> bool:
                assert process.running, process.tail(20)
                try:
                    return (await client.get("/livez")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(alive, within=60)
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {"database": True, "broker": False}

            for event in events:
                body = body_of(event)
                stored = await client.post(
                    "/stripe/webhooks", content=body, headers=signed(body, PLATFORM_SECRET)
                )
                assert stored.status_code == 200, stored.text
                assert stored.json() == {"received": True, "duplicate": False}
            assert await _outbox_rows(url) == len(events)

            await asyncio.to_thread(stack.start_broker)
            broker_down = False
            await restore_topics(infra.kafka_bootstrap)

            wanted = {str(contract_event_id(event["id"])) for event in events}

            async def published() -> Counter[str]:
                seen: Counter[str] = Counter()
                for record in await read_topic(infra.kafka_bootstrap, STRIPE_INVOICES.name):
                    event_id = json.loads(record.value or b"{}").get("event_id")
                    if event_id in wanted:
                        seen[event_id] += 1
                return seen

            async def all_out() -> bool:
                return await _outbox_rows(url) == 0 and set(await published()) == wanted

            await eventually(all_out, within=90)
            assert await published() == Counter(dict.fromkeys(wanted, 1))

            async def ready_again() -> bool:  # its consumer joins its group once the broker is back
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready_again, within=30)
    finally:
        process.stop()
        if broker_down:
            await asyncio.to_thread(stack.start_broker)
