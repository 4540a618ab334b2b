"""A service's table of consumers is read by one consumer group, named after the service: one
Kafka consumer over all of the table's topics. A batch mixing topics reaches every consumer
of each topic with that topic's records, in their order, each consumer under its own name;
the group starts where the consumer groups it replaces had got to, the lowest of them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka.message import KafkaAckableMessage
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_contracts import Topic
from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.routing import SUBSCRIPTIONS
from billing_kit.consumer_group import earliest_positions
from billing_kit.inbox import Inbox, Received, Subscriber, inbox_table
from billing_kit.kafka import new_broker
from tests.helpers.kafka import Record
from tests.helpers.runtimes import runtime_of

pytestmark = pytest.mark.unit


async def _never(session: AsyncSession, event: Any) -> None:
    raise AssertionError("not applied in these tests")


def _inbox(max_batch: int = 200, linger_ms: int = 0, linger_below: int = 50) -> Inbox:
    return Inbox(
        new_broker("127.0.0.1:1", "shop"),  # never connected
        cast(async_sessionmaker[AsyncSession], None),
        inbox_table(MetaData()),
        service="shop",
        max_batch=max_batch,
        linger_ms=linger_ms,
        linger_below=linger_below,
    )


Delivered = list[tuple[str, str, list[bytes]]]


def _recording(inbox: Inbox, delivered: Delivered) -> None:
    """Each transaction a consumer would apply: (topic, consumer, bodies in order)."""

    async def deliver_batch(
        topic: Topic, consumer: str, handler: Subscriber, messages: Sequence[Received]
    ) -> list[bool]:
        delivered.append((topic.name, consumer, [m.body for m in messages]))
        return [True] * len(messages)

    inbox.deliver_batch = deliver_batch  # type: ignore[method-assign]


@pytest.mark.parametrize("service", ["revenue", "invoicing", "subscriptions"])
def test_a_services_table_is_read_by_one_consumer_group(service: str) -> None:
    runtime = runtime_of(service)
    runtime.inbox.consume()
    table = [s for s in SUBSCRIPTIONS if s.service == service]
    assert len(table) > 1
    readers = {getattr(s, "group_id", None): s for s in runtime.broker.subscribers}
    # Besides the table's group, a service may answer requests as a group of its own.
    assert (
        len([s for s in runtime.broker.subscribers if getattr(s, "group_id", None) == service]) == 1
    )
    assert set(getattr(readers[service], "topic_names", ())) == {s.topic.name for s in table}
    assert sorted(c.name for c in runtime.inbox.consumers) == sorted(s.name for s in table)
    assert not {t.name for t in table} & set(readers)


async def test_a_batch_mixing_topics_reaches_each_consumer_of_its_topic_in_order() -> None:
    inbox = _inbox()
    inbox.subscribe(PRODUCTS, "catalogue", _never)
    inbox.subscribe(AGENCIES, "agencies", _never)
    inbox.subscribe(PRODUCTS, "prices", _never)
    delivered: Delivered = []
    _recording(inbox, delivered)
    batch = [
        Record(PRODUCTS.name, 0, 7, b"p0-7"),
        Record(PRODUCTS.name, 0, 8, b"p0-8"),
        Record(AGENCIES.name, 2, 3, b"a2-3"),
        Record(PRODUCTS.name, 1, 4, b"p1-4"),
        Record(AGENCIES.name, 2, 4, b"a2-4"),
        Record(PRODUCTS.name, 0, 9, b"p0-9"),
    ]

    await inbox.apply_records(batch)

    products = [b"p0-7", b"p0-8", b"p1-4", b"p0-9"]
    assert sorted(delivered) == sorted(
        [
            (PRODUCTS.name, "shop.catalogue", products),
            (AGENCIES.name, "shop.agencies", [b"a2-3", b"a2-4"]),
            (PRODUCTS.name, "shop.prices", products),
        ]
    )


async def test_a_consumers_part_is_applied_in_transactions_of_at_most_max_batch() -> None:
    inbox = _inbox(max_batch=2)
    inbox.subscribe(PRODUCTS, "catalogue", _never)
    delivered: Delivered = []
    _recording(inbox, delivered)
    batch = [Record(PRODUCTS.name, 0, n, str(n).encode()) for n in range(5)]
    batch.append(Record(AGENCIES.name, 0, 0, b"nobody reads this topic"))

    await inbox.apply_records(batch)

    assert [bodies for _, _, bodies in delivered] == [[b"0", b"1"], [b"2", b"3"], [b"4"]]


async def test_an_error_of_one_consumer_fails_the_batch_once_the_others_are_done() -> None:
    inbox = _inbox()
    inbox.subscribe(PRODUCTS, "catalogue", _never)
    inbox.subscribe(AGENCIES, "agencies", _never)
    delivered: list[str] = []

    async def deliver_batch(
        topic: Topic, consumer: str, handler: Subscriber, messages: Sequence[Received]
    ) -> list[bool]:
        if consumer == "shop.catalogue":
            raise ConnectionError("the broker refused a dead letter")
        delivered.append(consumer)
        return [True] * len(messages)

    inbox.deliver_batch = deliver_batch  # type: ignore[method-assign]

    with pytest.raises(ConnectionError):
        await inbox.apply_records(
            [Record(PRODUCTS.name, 0, 0, b"p"), Record(AGENCIES.name, 0, 0, b"a")]
        )
    assert delivered == ["shop.agencies"]


class _Reader:
    """What a Kafka consumer has buffered: handed over by ``getmany``; rewinds by ``seek``.
    ``moved``: the partitions it has after ``getmany`` (a rebalance meanwhile)."""

    def __init__(
        self,
        buffered: dict[TopicPartition, list[Record]],
        moved: set[TopicPartition] | None = None,
    ) -> None:
        self.buffered = buffered
        self.assigned = {_P0, _P1, _A0}
        self.moved = moved
        self.asked: list[int] = []
        self.rewound: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        self.asked.append(max_records)
        self.assigned = self.moved if self.moved is not None else self.assigned
        handed, self.buffered = self.buffered, {}
        return handed

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.rewound[partition] = offset


def _lingering(
    buffered: dict[TopicPartition, list[Record]],
    moved: set[TopicPartition] | None = None,
    linger_ms: int = 1,
) -> tuple[Inbox, _Reader]:
    inbox = _inbox(max_batch=10, linger_ms=linger_ms, linger_below=5)
    inbox.subscribe(PRODUCTS, "catalogue", _never)
    inbox.subscribe(AGENCIES, "agencies", _never)
    inbox.consume()  # the group takes up to 10 a topic: 20 in all
    return inbox, _Reader(buffered, moved)


_P0, _P1 = TopicPartition(PRODUCTS.name, 0), TopicPartition(PRODUCTS.name, 1)
_A0 = TopicPartition(AGENCIES.name, 0)
_FIRST = (Record(PRODUCTS.name, 0, 7, b"p7"), Record(PRODUCTS.name, 1, 3, b"q3"))
_MORE = {
    _P1: [Record(PRODUCTS.name, 1, 4, b"q4"), Record(PRODUCTS.name, 1, 5, b"q5")],
    _A0: [Record(AGENCIES.name, 0, 2, b"a2")],  # a partition the batch did not have
}


async def test_a_flowing_streams_small_batch_waits_once_for_more_and_is_rewound_whole() -> None:
    inbox, reader = _lingering({**_MORE})
    inbox._last_batch_done = time.monotonic() - 0.5  # a stream is flowing
    message = KafkaAckableMessage(_FIRST, b"", consumer=reader)

    records = await inbox._topped_up(message, _FIRST, cast(AIOKafkaConsumer, reader))

    assert [r.value for r in records] == [b"p7", b"q3", b"q4", b"q5", b"a2"]
    assert reader.asked == [20 - 2]  # no more than the group takes in one poll
    await message.nack()  # what FastStream does when applying the batch fails
    assert reader.rewound == {_P0: 7, _P1: 3, _A0: 2}


async def test_a_batch_after_a_quiet_second_a_big_one_or_with_lingering_off_goes_as_is() -> None:
    quiet, quiet_reader = _lingering({**_MORE})
    quiet._last_batch_done = time.monotonic() - 1.5  # the last batch a second and a half ago
    message = KafkaAckableMessage(_FIRST, b"", consumer=quiet_reader)
    assert await quiet._topped_up(message, _FIRST, cast(AIOKafkaConsumer, quiet_reader)) == _FIRST

    flowing, flowing_reader = _lingering({**_MORE})
    flowing._last_batch_done = time.monotonic() - 0.5  # half a second ago: flowing
    big = tuple(Record(PRODUCTS.name, 0, n, b"p") for n in range(5))
    assert await flowing._topped_up(message, big, cast(AIOKafkaConsumer, flowing_reader)) == big

    off, off_reader = _lingering({**_MORE}, linger_ms=0)
    off._last_batch_done = time.monotonic() - 0.5
    assert await off._topped_up(message, _FIRST, cast(AIOKafkaConsumer, off_reader)) == _FIRST

    full = _inbox(max_batch=1, linger_ms=1, linger_below=5)  # a poll takes one message
    full.subscribe(PRODUCTS, "catalogue", _never)
    full.consume()
    full._last_batch_done = time.monotonic() - 0.5
    one = _FIRST[:1]
    assert await full._topped_up(message, one, cast(AIOKafkaConsumer, off_reader)) == one

    assert quiet_reader.asked == flowing_reader.asked == off_reader.asked == []
    assert message.raw_message == _FIRST


async def test_what_came_while_the_group_rebalanced_is_read_again_not_added() -> None:
    inbox, reader = _lingering({**_MORE}, moved={_P1, _A0})  # P0 went to another replica
    inbox._last_batch_done = time.monotonic() - 0.5
    message = KafkaAckableMessage(_FIRST, b"", consumer=reader)

    records = await inbox._topped_up(message, _FIRST, cast(AIOKafkaConsumer, reader))

    assert records == message.raw_message == _FIRST
    assert reader.rewound == {_P1: 4, _A0: 2}  # read again from the first record taken


def test_the_group_starts_at_the_lowest_offset_its_earlier_groups_committed() -> None:
    a0, a1, b0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
    earlier = {"a": ["shop.one", "shop.two"], "b": ["shop.three"]}
    committed = {
        "shop.one": {a0: 12, a1: 3},
        "shop.two": {a0: 9},  # never committed on a1: it would read a1 from its start
        "shop.three": {b0: 40},
    }

    positions = earliest_positions([a0, a1, b0, TopicPartition("c", 0)], earlier, committed)

    assert positions == {a0: 9, b0: 40}
