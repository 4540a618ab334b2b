"""Operator commands of a service (``python -m <service> outbox|dlq ...``), run as the
processes an operator runs, against the test stack's database and broker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event
from billing_contracts.catalog_products import ProductUpdated
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.kafka import ensure_topics
from tests.helpers.kafka import read_topic
from tests.helpers.kit.revisions import catalog_runtime_on_own_topic, product_revision
from tests.helpers.runtimes import close_runtime

pytestmark = [pytest.mark.integration]


async def catalog_command(infra: Infra, url: str, *args: str, **env: str) -> list[Any]:
    """Runs ``python -m catalog <args>``; its output lines, parsed."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "catalog", *args],
        env={**os.environ, "DATABASE_URL": url, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
             **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def test_outbox_dead_letters_are_listed_and_redriven_into_the_outbox(infra: Infra) -> None:
    topic, runtime = await catalog_runtime_on_own_topic(infra, "opsoutbox", partitions=1)
    url = runtime.settings.database_url
    oversized = product_revision(f"big-{uuid.uuid4()}", 1, name="x" * 1_200_000)
    try:
        async with unit_of_work(runtime.sessions) as session:
            await runtime.outbox.add(session, topic, oversized)
        while await runtime.relay.relay_once():
            pass
        assert await catalog_command(infra, url, "outbox", "backlog") == [
            {"events": 0, "oldest_age_seconds": 0.0}
        ]
        [listed] = await catalog_command(infra, url, "outbox", "dead-letters")
        assert listed["event_id"] == str(oversized.event_id)
        assert listed["error"].startswith("MessageSizeTooLargeError")

        moved = await catalog_command(infra, url, "outbox", "redrive", str(listed["id"]))
        assert moved == [{"redriven": [listed["id"]]}]
        assert await catalog_command(infra, url, "outbox", "dead-letters") == []
        [backlog] = await catalog_command(infra, url, "outbox", "backlog")
        assert backlog["events"] == 1
        async with runtime.engine.connect() as conn:
            [row] = (await conn.execute(select(runtime.tables.outbox))).all()
        assert row.event_id == oversized.event_id
        assert json.loads(row.body)["payload"] == oversized.model_dump(mode="json")["payload"]
        again = await catalog_command(infra, url, "outbox", "redrive", str(listed["id"]))
        assert again == [{"redriven": []}]  # nothing left to move: nothing written twice
    finally:
        await close_runtime(runtime)


async def test_a_services_dlq_messages_are_listed_and_redriven_once(infra: Infra) -> None:
    prefix = f"ops{uuid.uuid4().hex[:8]}"
    topic, runtime = await catalog_runtime_on_own_topic(
        infra, "opsdlq", partitions=1, consumer_group_prefix=prefix
    )
    await ensure_topics(infra.kafka_bootstrap, [topic.dlq])
    url = runtime.settings.database_url
    env = {"CATALOG_CONSUMER_GROUP_PREFIX": prefix}
    poison, others = product_revision("p-1", 1), product_revision("p-2", 1)

    async def broken(session: AsyncSession, _: Event) -> None:
        raise ValueError("replica is corrupt")

    await runtime.broker.connect()
    try:
        body = poison.model_dump_json().encode()
        assert not await runtime.inbox.deliver(topic, f"{prefix}.products", broken, body)
        body = others.model_dump_json().encode()  # another service's: not ours to re-drive
        assert not await runtime.inbox.deliver(topic, "elsewhere.products", broken, body)
    finally:
        await runtime.broker.stop()
        await close_runtime(runtime)

    [listed] = await catalog_command(infra, url, "dlq", "list", "--topic", topic.name, **env)
    assert listed["consumer"] == f"{prefix}.products"
    assert listed["topic"] == topic.name
    assert "replica is corrupt" in listed["error"]
    [redriven] = await catalog_command(infra, url, "dlq", "redrive", "--topic", topic.name, **env)
    assert [m["offset"] for m in redriven["redriven"]] == [listed["offset"]]
    assert await catalog_command(infra, url, "dlq", "list", "--topic", topic.name, **env) == []

    [record] = await read_topic(infra.kafka_bootstrap, topic.name)
    assert record.value == poison.model_dump_json().encode()
    assert dict(record.headers)["x-redriven-from"] == topic.dlq.encode()
    assert ProductUpdated.model_validate_json(record.value).event_id == poison.event_id
