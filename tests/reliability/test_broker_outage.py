"""Broker outage: outbox rows wait while the broker is down and are published once it is
back — nothing lost, nothing published early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

import catalog.models
from billing_contracts.catalog_products import PRODUCTS
from billing_devstack import Infra, Stack
from billing_kit.runtime import Runtime
from catalog.settings import CatalogSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.kafka import keys_on, restore_topics
from tests.helpers.products import record_product
from tests.helpers.runtimes import close_runtime, service_runtime
from tests.helpers.tokens import new_agency_id
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
async def catalog_runtime(infra: Infra) -> AsyncIterator[Runtime]:
    url = await create_database(infra.database_url, "outage")
    await asyncio.to_thread(migrate, url, ["catalog"])
    runtime = service_runtime(
        CatalogSettings,
        catalog.models.kit_tables,
        infra,
        url,
        publishes=(PRODUCTS,),
        outbox_idle_poll_seconds=0.05,
    )
    yield runtime
    await close_runtime(runtime)


async def _record_product(runtime: Runtime) -> str:
    return (await record_product(runtime, new_agency_id())).id


async def test_rows_wait_while_the_broker_is_down_and_go_out_once_it_is_back(
    catalog_runtime: Runtime, stack: Stack, infra: Infra
) -> None:
    relay_task = asyncio.create_task(catalog_runtime.relay.run())
    try:
        await asyncio.to_thread(stack.stop_broker)
        relay = catalog_runtime.relay
        product_ids = {await _record_product(catalog_runtime) for _ in range(3)}
        failed_before = relay.failed_attempts

        async def tried_and_failed_twice() -> bool:
            return relay.failed_attempts >= failed_before + 2

        await eventually(tried_and_failed_twice, within=30)
        assert await relay.pending() == 3  # nothing lost, nothing marked

        await asyncio.to_thread(stack.start_broker)
        await restore_topics(infra.kafka_bootstrap)

        async def drained() -> bool:
            return await catalog_runtime.relay.pending() == 0

        await eventually(drained, within=60)
    finally:
        relay_task.cancel()
        await asyncio.gather(relay_task, return_exceptions=True)

    published = await keys_on(infra.kafka_bootstrap, PRODUCTS.name)
    assert product_ids <= published
