"""The outbox relay: one publishes at a time per service; it keeps each aggregate's events in
the order they were written, across batches and partitions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import defaultdict
from typing import Literal

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

import catalog.models
from billing_contracts.catalog_products import PRODUCTS
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.outbox_ops import Backlog
from catalog.settings import CatalogSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.kafka import read_topic
from tests.helpers.kit.revisions import catalog_runtime_on_own_topic, product_revision
from tests.helpers.products import record_product
from tests.helpers.runtimes import close_runtime, service_runtime
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


async def test_each_key_keeps_its_order_across_batches_and_partitions(infra: Infra) -> None:
    topic, runtime = await catalog_runtime_on_own_topic(
        infra, "order", partitions=4, outbox_batch_size=400
    )
    products = [f"order-{uuid.uuid4()}" for _ in range(7)]
    try:
        for number in range(1, 151):  # 1,050 rows of ~2.5 KB: several record batches each
            async with unit_of_work(runtime.sessions) as session:
                revisions = [product_revision(p, number, name="x" * 2000) for p in products]
                await runtime.outbox.add(session, topic, *revisions)
        while await runtime.relay.relay_once():
            pass
    finally:
        await close_runtime(runtime)

    seen: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for record in await read_topic(infra.kafka_bootstrap, topic.name):
        key = (record.key or b"").decode()
        if key in products:
            seen[key].append(json.loads(record.value or b"{}")["payload"]["revision"])
            partitions[key].add(record.partition)
    for product in products:
        assert seen[product] == list(range(1, 151)), product
        assert len(partitions[product]) == 1
    assert len(set().union(*partitions.values())) > 1  # the keys did spread over partitions


async def test_only_one_relay_publishes_at_a_time_and_the_other_knows_it(infra: Infra) -> None:
    url = await create_database(infra.database_url, "relaylock")
    await asyncio.to_thread(migrate, url, ["catalog"])
    runtime = service_runtime(
        CatalogSettings, catalog.models.kit_tables, infra, url, publishes=(PRODUCTS,)
    )
    await record_product(runtime, "agency-lock")
    try:
        async with runtime.engine.connect() as other_replica:
            await other_replica.execute(
                text("SELECT pg_advisory_lock(:id)"), {"id": runtime.relay.lock_id}
            )
            assert await runtime.relay.relay_once() is None  # locked out, not "nothing to do"
            assert await runtime.relay.pending() == 1
            await other_replica.execute(
                text("SELECT pg_advisory_unlock(:id)"), {"id": runtime.relay.lock_id}
            )
        assert await runtime.relay.relay_once() == 1
    finally:
        await close_runtime(runtime)


class _Watched(asyncio.Event):
    """The outbox's commit signal, telling whether the relay is waiting on it."""

    waiting = 0

    async def wait(self) -> Literal[True]:
        self.waiting += 1
        try:
            return await super().wait()
        finally:
            self.waiting -= 1


async def test_a_locked_out_relay_waits_for_a_commit_of_its_own_then_looks_until_it_publishes(
    infra: Infra,
) -> None:
    url = await create_database(infra.database_url, "relaywait")
    await asyncio.to_thread(migrate, url, ["catalog"])
    runtime = service_runtime(
        CatalogSettings, catalog.models.kit_tables, infra, url, publishes=(PRODUCTS,)
    )
    relay = runtime.relay
    relay.idle_poll_seconds = 3600  # only a commit wakes it
    runtime.outbox.committed = watched = _Watched()
    passes = 0
    relay_on = relay._relay_on

    async def counted(conn: AsyncConnection) -> int | None:
        nonlocal passes
        passes += 1
        return await relay_on(conn)

    relay._relay_on = counted  # type: ignore[method-assign]

    async def waiting_for_a_commit() -> bool:
        return watched.waiting == 1

    async def looked_again() -> bool:
        return passes >= 3

    async def published() -> bool:
        return await relay.pending() == 0

    running = None
    try:
        async with runtime.engine.connect() as other_replica:
            lock = {"id": relay.lock_id}
            await other_replica.execute(text("SELECT pg_advisory_lock(:id)"), lock)
            running = asyncio.create_task(relay.run())
            await eventually(waiting_for_a_commit)
            assert passes == 1  # locked out with nothing of its own: it does not look again
            await record_product(runtime, "agency-wait")
            await eventually(looked_again)  # a row of its own waits: again, and again
            assert await relay.pending() == 1
            await other_replica.execute(text("SELECT pg_advisory_unlock(:id)"), lock)
        await eventually(published)
        await eventually(waiting_for_a_commit)  # and back to waiting once it has
    finally:
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
        await close_runtime(runtime)


async def test_backlog_and_relay_metrics_follow_the_outbox(infra: Infra) -> None:
    topic, runtime = await catalog_runtime_on_own_topic(infra, "backlog", partitions=1)
    service = {"service": runtime.relay.name}
    published = {**service, "topic": topic.name}
    before = REGISTRY.get_sample_value("outbox_published_total", published) or 0
    lags = REGISTRY.get_sample_value("outbox_relay_lag_seconds_count", service) or 0
    try:
        assert (await runtime.relay.backlog()).events == 0
        async with unit_of_work(runtime.sessions) as session:
            await runtime.outbox.add(session, topic, *(product_revision("p", n) for n in range(5)))
        waiting = await runtime.relay.backlog()
        assert waiting.events == 5
        assert waiting.oldest_age_seconds >= 0
        assert REGISTRY.get_sample_value("outbox_backlog_events", service) == 5
        while await runtime.relay.relay_once():
            pass
        assert await runtime.relay.backlog() == Backlog(0, 0.0)
        assert REGISTRY.get_sample_value("outbox_backlog_events", service) == 0
    finally:
        await close_runtime(runtime)
    assert REGISTRY.get_sample_value("outbox_published_total", published) == before + 5
    assert REGISTRY.get_sample_value("outbox_relay_lag_seconds_count", service) == lags + 5


async def test_the_relay_publishes_while_the_consumers_are_still_starting(infra: Infra) -> None:
    topic, runtime = await catalog_runtime_on_own_topic(infra, "early", partitions=1)
    never = asyncio.Event()
    runtime.on_startup(never.wait)  # a consumer-side start that has not finished
    product = f"early-{uuid.uuid4()}"
    async with runtime.running():
        async with unit_of_work(runtime.sessions) as session:
            await runtime.outbox.add(session, topic, product_revision(product, 1))

        async def published() -> bool:
            records = await read_topic(infra.kafka_bootstrap, topic.name)
            return any((record.key or b"").decode() == product for record in records)

        await eventually(published, within=30)
        assert runtime.broker_problem is not None  # still not connected: only the relay runs
