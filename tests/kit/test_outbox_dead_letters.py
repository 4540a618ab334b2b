"""One outbox row the broker can never take (here: larger than any request it accepts) is
moved to ``outbox_dead_letters`` with its error and counted; every other row, of its own
aggregate and of the others, is published in order in the same pass."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

import catalog.models
from billing_contracts import Topic
from billing_contracts.catalog_products import ProductSnapshot, ProductUpdated
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.kafka import ensure_topics
from catalog.settings import CatalogSettings
from tests.support.databases import create_database, migrate
from tests.support.kafka import read_topic
from tests.support.runtimes import close_runtime, service_runtime

pytestmark = [pytest.mark.integration]

OVERSIZED_NAME = "x" * 1_200_000  # over the producer's 1 MiB request limit


def revision(product_id: str, number: int, name: str = "fits") -> ProductUpdated:
    return ProductUpdated(
        agency_id="agency-dead-letter",
        payload=ProductSnapshot(
            product_id=product_id, name=name, cadence="monthly", amount_cents=100,
            currency="usd", status="active", stripe_account_id="acct", stripe_product_id="prod",
            stripe_price_id="price", created_at=datetime.now(UTC), revision=number,
        ),
    )  # fmt: skip


async def test_an_oversized_row_is_set_aside_and_the_rest_flow_in_order(infra: Infra) -> None:
    topic = Topic(f"test.dead-{uuid.uuid4().hex[:8]}.v1", "dead letters", (ProductUpdated,))
    await ensure_topics(infra.kafka_bootstrap, [topic.name], partitions=2)
    url = await create_database(infra.database_url, "dead")
    await asyncio.to_thread(migrate, url, ["catalog"])
    runtime = service_runtime(
        CatalogSettings, catalog.models.kit_tables, infra, url, publishes=(topic,)
    )
    faulty, others = f"faulty-{uuid.uuid4()}", [f"other-{uuid.uuid4()}" for _ in range(4)]
    metric = {"service": "catalog", "topic": topic.name}
    counted_before = REGISTRY.get_sample_value("outbox_dead_letters_total", metric) or 0.0
    try:
        for number in (1, 2, 3):
            async with unit_of_work(runtime.sessions) as session:
                name = OVERSIZED_NAME if number == 2 else "fits"
                events = [revision(faulty, number, name), *(revision(o, number) for o in others)]
                await runtime.outbox.add(session, topic, *events)
        while await runtime.relay.relay_once():
            pass
        assert await runtime.relay.pending() == 0
        async with runtime.engine.connect() as conn:
            dead = (await conn.execute(select(runtime.tables.dead_letters))).all()
    finally:
        await close_runtime(runtime)

    [row] = dead
    assert row.key == faulty
    assert row.topic == topic.name
    assert json.loads(row.body)["payload"]["revision"] == 2
    assert row.error.startswith("MessageSizeTooLargeError")
    counted = REGISTRY.get_sample_value("outbox_dead_letters_total", metric)
    assert counted == counted_before + 1

    seen: dict[str, list[int]] = defaultdict(list)
    for record in await read_topic(infra.kafka_bootstrap, topic.name):
        seen[(record.key or b"").decode()].append(
            json.loads(record.value or b"{}")["payload"]["revision"]
        )
    assert seen[faulty] == [1, 3]
    for other in others:
        assert seen[other] == [1, 2, 3]
