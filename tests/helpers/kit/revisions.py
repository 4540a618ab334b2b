"""Numbered revisions of a product and a relay of their own, for tests that follow one
aggregate's events in order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

import catalog.models
from billing_contracts import Topic
from billing_contracts.catalog_products import ProductSnapshot, ProductUpdated
from billing_devstack import Infra
from billing_kit.kafka import ensure_topics
from billing_kit.runtime import Runtime
from catalog.settings import CatalogSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.runtimes import service_runtime
from tests.helpers.waiting import eventually


def product_revision(
    product_id: str, number: int, *, name: str = "fits", agency_id: str = "agency-order"
) -> ProductUpdated:
    return ProductUpdated(
        agency_id=agency_id,
        payload=ProductSnapshot(
            product_id=product_id, name=name, cadence="monthly", amount_cents=100,
            currency="usd", status="active", stripe_account_id="acct", stripe_product_id="prod",
            stripe_price_id="price", created_at=datetime.now(UTC), revision=number,
        ),
    )  # fmt: skip


async def partitions_announced(bootstrap: str, topic: str, count: int) -> None:
    """Wait until the broker's metadata shows every partition of a topic just created: a
    producer that asks earlier may see fewer and put every key on one partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:

        async def all_there() -> bool:
            await producer.client.force_metadata_update()
            return len(producer.client.cluster.partitions_for_topic(topic) or ()) == count

        await eventually(all_there, within=30)
    finally:
        await producer.stop()


async def catalog_runtime_on_own_topic(
    infra: Infra, name: str, *, partitions: int, **settings: Any
) -> tuple[Topic, Runtime]:
    """A catalog runtime in a database of its own, publishing product revisions to a topic
    of its own (so a test's records slow no reader of the real one)."""
    topic = Topic(f"test.{name}-{uuid.uuid4().hex[:8]}.v1", name, (ProductUpdated,))
    await ensure_topics(infra.kafka_bootstrap, [topic.name], partitions=partitions)
    await partitions_announced(infra.kafka_bootstrap, topic.name, partitions)
    url = await create_database(infra.database_url, name)
    await asyncio.to_thread(migrate, url, ["catalog"])
    runtime = service_runtime(
        CatalogSettings, catalog.models.kit_tables, infra, url, publishes=(topic,), **settings
    )
    return topic, runtime
