"""The first event end to end, on the real broker and Postgres: catalog stores a product and
its ``product.created`` in one transaction, the relay publishes it, subscriptions applies it
to its replica through the inbox — exactly once, whatever fails in between."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import event as sqlalchemy_events
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import catalog.models
import subscriptions.models
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.envelope import Event
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.inbox import claim_statement
from billing_kit.runtime import Runtime
from catalog.models import Product
from catalog.service import Catalog
from catalog.settings import CatalogSettings
from subscriptions.models import ProductReplica
from subscriptions.replicas import Replicas
from subscriptions.settings import SubscriptionsSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.products import catalog_without_stripe, record_product, unsaved_product
from tests.helpers.runtimes import close_runtime, service_runtime
from tests.helpers.tokens import new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
async def database_url(infra: Infra) -> str:
    """A database of its own, so no running service's relay touches these outbox rows."""
    url = await create_database(infra.database_url, "outbox")
    await asyncio.to_thread(migrate, url, ["catalog", "subscriptions"])
    return url


@dataclass
class Pipeline:
    catalog: Runtime
    subscriptions: Runtime
    applied: Counter[uuid.UUID]

    def catalog_service(self, session: AsyncSession) -> Catalog:
        return catalog_without_stripe(self.catalog, session)

    async def record_product(self, agency_id: str) -> Product:
        return await record_product(self.catalog, agency_id)

    async def outbox_rows(self) -> int:
        return await self.catalog.relay.pending()

    async def replica(self, product_id: str) -> ProductReplica | None:
        async with self.subscriptions.sessions() as session:
            return await session.get(ProductReplica, product_id)

    async def inbox_rows(self, event_ids: set[uuid.UUID]) -> int:
        table = self.subscriptions.tables.inbox
        async with self.subscriptions.sessions() as session:
            query = select(func.count()).select_from(table).where(table.c.event_id.in_(event_ids))
            return int((await session.execute(query)).scalar_one())


@pytest.fixture(scope="module")
async def pipeline(infra: Infra, database_url: str) -> AsyncIterator[Pipeline]:
    group = f"test-{uuid.uuid4().hex[:8]}"
    catalog_runtime = service_runtime(
        CatalogSettings,
        catalog.models.kit_tables,
        infra,
        database_url,
        publishes=(PRODUCTS,),
        outbox_idle_poll_seconds=0.05,
    )
    subscriptions_runtime = service_runtime(
        SubscriptionsSettings,
        subscriptions.models.kit_tables,
        infra,
        database_url,
        consumer_group_prefix=group,
    )
    applied: Counter[uuid.UUID] = Counter()

    async def apply_product(session: AsyncSession, event: Event) -> None:
        applied[event.event_id] += 1
        assert event.agency_id is not None
        await Replicas(session).apply_product(
            event.agency_id,
            event.payload,  # type: ignore[arg-type]
        )

    subscriptions_runtime.subscribe(PRODUCTS, "products", apply_product)
    pipe = Pipeline(catalog_runtime, subscriptions_runtime, applied)
    async with subscriptions_runtime.running():
        yield pipe
    await close_runtime(catalog_runtime)


async def event_ids_of(pipe: Pipeline, product_id: str) -> set[uuid.UUID]:
    table = pipe.catalog.tables.outbox
    async with pipe.catalog.sessions() as session:
        rows = await session.execute(select(table.c.event_id).where(table.c.key == product_id))
        return set(rows.scalars())


async def outbox_body(pipe: Pipeline, product_id: str) -> str:
    table = pipe.catalog.tables.outbox
    async with pipe.catalog.sessions() as session:
        query = select(table.c.body).where(table.c.key == product_id)
        return str((await session.execute(query)).scalar_one())


async def send_after(producer: AIOKafkaProducer, body: str, key: str, copies: int = 1) -> None:
    for _ in range(copies):
        await producer.send_and_wait(PRODUCTS.name, body.encode(), key=key.encode())


def newer_revision(body: str) -> tuple[str, int]:
    """Another event of the same product, one revision on: a marker that, once applied, shows
    that every earlier message of that product (same key, same partition) was handled."""
    event = json.loads(body)
    event["event_id"] = str(uuid.uuid4())
    event["payload"]["revision"] += 1
    return json.dumps(event), event["payload"]["revision"]


async def handled_through_marker(pipe: Pipeline, infra: Infra, body: str, key: str) -> None:
    marker, revision = newer_revision(body)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await send_after(producer, marker, key)
    finally:
        await producer.stop()

    async def marker_applied() -> bool:
        replica = await pipe.replica(key)
        return replica is not None and replica.revision == revision

    await eventually(marker_applied)


async def test_a_rolled_back_transaction_publishes_nothing(pipeline: Pipeline) -> None:
    agency_id = new_agency_id()
    product = unsaved_product(agency_id)

    async def record_then_fail() -> None:
        async with unit_of_work(pipeline.catalog.sessions) as session:
            await pipeline.catalog_service(session).record_product(product)
            assert await pipeline.catalog.relay.pending() == 0  # not visible before commit
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await record_then_fail()

    # A control product committed after it goes all the way through; the rolled-back one never.
    control = await pipeline.record_product(agency_id)
    while await pipeline.catalog.relay.relay_once():
        pass

    async def control_applied() -> bool:
        return await pipeline.replica(control.id) is not None

    await eventually(control_applied)
    assert await pipeline.replica(product.id) is None
    async with pipeline.catalog.sessions() as session:
        assert await session.get(Product, product.id) is None


async def test_a_duplicated_delivery_has_one_effect(pipeline: Pipeline, infra: Infra) -> None:
    product = await pipeline.record_product(new_agency_id())
    event_ids = await event_ids_of(pipeline, product.id)
    body = await outbox_body(pipeline, product.id)
    published = await pipeline.catalog.relay.relay_once()
    assert published is not None
    assert published >= 1

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    try:  # the broker hands the same message over twice more
        await send_after(producer, body, product.id, copies=2)
    finally:
        await producer.stop()

    await handled_through_marker(pipeline, infra, body, product.id)
    (event_id,) = event_ids
    assert pipeline.applied[event_id] == 1
    assert await pipeline.inbox_rows(event_ids) == 1


async def test_a_relay_dying_after_publish_still_leads_to_one_effect(
    pipeline: Pipeline, infra: Infra
) -> None:
    product = await pipeline.record_product(new_agency_id())
    event_ids = await event_ids_of(pipeline, product.id)
    body = await outbox_body(pipeline, product.id)
    relay = pipeline.catalog.relay
    publish = relay._publish

    async def publish_then_die(rows: object) -> None:
        await publish(rows)  # type: ignore[arg-type]
        raise ConnectionError("relay killed before marking its rows")

    relay._publish = publish_then_die  # type: ignore[method-assign,assignment]
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    relay._publish = publish  # type: ignore[method-assign]
    assert await pipeline.outbox_rows() >= 1  # nothing was marked: the rows are still there

    while await relay.relay_once():  # the restarted relay publishes them again
        pass
    assert await pipeline.outbox_rows() == 0

    await handled_through_marker(pipeline, infra, body, product.id)
    (event_id,) = event_ids
    assert pipeline.applied[event_id] == 1
    assert await pipeline.inbox_rows(event_ids) == 1


async def test_inbox_claims_of_any_batch_size_are_one_statement_text(pipeline: Pipeline) -> None:
    """A batch's inbox rows go in with one statement whose text does not depend on the
    batch's size (prepared once per connection); it returns only the ids not claimed
    before, once each, whatever the batch repeats."""
    claim = claim_statement(pipeline.subscriptions.tables.inbox)
    consumer = f"test.{uuid.uuid4().hex[:8]}"
    texts: set[str] = set()

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "inbox" in statement:
            texts.add(statement)

    async def claimed(ids: list[uuid.UUID]) -> list[uuid.UUID]:
        async with unit_of_work(pipeline.subscriptions.sessions) as session:
            result = await session.execute(
                claim, {"consumer": [consumer] * len(ids), "event_id": ids}
            )
            return sorted(row.event_id for row in result)

    engine = pipeline.subscriptions.engine.sync_engine
    sqlalchemy_events.listen(engine, "before_cursor_execute", seen)
    try:
        earlier = uuid.uuid4()
        assert await claimed([earlier]) == [earlier]
        for size in (3, 7):
            ids = [uuid.uuid4() for _ in range(size)]
            # one id claimed by an earlier batch, one twice in this batch
            assert await claimed([earlier, *ids, ids[-1]]) == sorted(ids)
    finally:
        sqlalchemy_events.remove(engine, "before_cursor_execute", seen)
    assert len(texts) == 1
