"""Outbox relay throughput: how fast committed outbox rows reach Kafka.

Starts its own embedded Postgres and broker (state in .devstack/bench), writes N events in
transactions of T events each, then lets one relay publish them and prints rows/s and the
time from the last commit to an empty outbox. Bounded: it stops after N rows.

    uv run python -m bench.outbox_relay --events 20000 --per-transaction 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import catalog.models
from billing_contracts.catalog_products import PRODUCTS, ProductCreated
from billing_devstack import Infra, default_state_dir, infrastructure
from billing_devstack.broker import BROKER_ENV
from billing_kit.db import unit_of_work
from billing_kit.runtime import Runtime
from catalog.settings import CatalogSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.products import product_created


def _event(index: int) -> ProductCreated:
    return product_created(f"agency-{index % 50}", name=f"Product {index}")


async def measure(database_url: str, bootstrap: str, events: int, per_transaction: int) -> None:
    runtime = Runtime(
        CatalogSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap),
        catalog.models.kit_tables,
        publishes=(PRODUCTS,),
    )
    started = time.perf_counter()
    for first in range(0, events, per_transaction):
        async with unit_of_work(runtime.sessions) as session:
            batch = [_event(i) for i in range(first, min(first + per_transaction, events))]
            await runtime.outbox.add(session, PRODUCTS, *batch)
    written = time.perf_counter() - started
    print(f"written  {events} events in {written:.2f}s  ({events / written:,.0f} events/s)")

    started = time.perf_counter()
    while await runtime.relay.relay_once():
        pass
    relayed = time.perf_counter() - started
    print(f"relayed  {events} events in {relayed:.2f}s  ({events / relayed:,.0f} events/s)")
    await runtime.relay.stop()
    await runtime.engine.dispose()


def bench_relay(infra: Infra, events: int = 20_000, per_transaction: int = 50) -> None:
    """Measure on running infrastructure, in a database of its own."""
    for variable, value in BROKER_ENV.items():  # the relay built here runs on that broker
        os.environ.setdefault(variable, value)
    database_url = asyncio.run(create_database(infra.database_url, "bench"))
    migrate(database_url, ["catalog"])
    asyncio.run(measure(database_url, infra.kafka_bootstrap, events, per_transaction))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--per-transaction", type=int, default=50)
    args = parser.parse_args()
    with infrastructure(default_state_dir() / "bench", emulator=False) as infra:
        bench_relay(infra, args.events, args.per_transaction)


if __name__ == "__main__":
    main()
