"""One outbox row the broker can never take (here: larger than any request it accepts) is
moved to ``outbox_dead_letters`` with its error and counted; every other row, of its own
aggregate and of the others, is published in order in the same pass."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from billing_devstack import Infra
from billing_kit.db import unit_of_work
from tests.helpers.kafka import read_topic
from tests.helpers.kit.revisions import catalog_runtime_on_own_topic, product_revision
from tests.helpers.runtimes import close_runtime

pytestmark = [pytest.mark.integration]

OVERSIZED_NAME = "x" * 1_200_000  # over the producer's 1 MiB request limit


async def test_an_oversized_row_is_set_aside_and_the_rest_flow_in_order(infra: Infra) -> None:
    topic, runtime = await catalog_runtime_on_own_topic(infra, "dead", partitions=2)
    faulty, others = f"faulty-{uuid.uuid4()}", [f"other-{uuid.uuid4()}" for _ in range(4)]
    metric = {"service": "catalog", "topic": topic.name}
    counted_before = REGISTRY.get_sample_value("outbox_dead_letters_total", metric) or 0.0
    try:
        for number in (1, 2, 3):
            async with unit_of_work(runtime.sessions) as session:
                name = OVERSIZED_NAME if number == 2 else "fits"
                events = [
                    product_revision(faulty, number, name=name),
                    *(product_revision(other, number) for other in others),
                ]
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
