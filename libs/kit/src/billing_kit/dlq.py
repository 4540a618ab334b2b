"""A service's messages in the ``<topic>.dlq`` topics: listed, and re-driven to the topic they
came from once their cause is fixed.

Every consumer of a topic dead-letters into the same ``.dlq``; the ``x-consumer`` header says
whose a message is, so a service sees and re-drives only its own. What it re-drove is
remembered as the committed offsets of its consumer group ``<service>.dlq-redrive``: a message
is re-driven once. Re-driving publishes to the original topic, where every consumer sees the
event again; those that applied it already find it in their inbox and skip it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from billing_kit.settings import SINGLE_BROKER, KafkaDurability

REDRIVE_GROUP = "dlq-redrive"
DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class DeadLetterMessage:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def original_topic(self) -> str:
        return self.headers.get("x-original-topic") or self.dlq_topic.removesuffix(DLQ_SUFFIX)

    @property
    def consumer(self) -> str:
        return self.headers.get("x-consumer", "")

    @property
    def error(self) -> str:
        return self.headers.get("x-error", "")


@dataclass
class _Pending:
    messages: list[DeadLetterMessage]
    ends: dict[TopicPartition, int]
    """Where each partition stood when read: committed once its messages are re-driven."""


class DeadLetterQueues:
    """The ``.dlq`` topics as seen by one service (its consumers ``<service>.*``)."""

    def __init__(self, bootstrap_servers: str, service: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.service = service

    async def pending(self, topic: str | None = None) -> list[DeadLetterMessage]:
        """The service's dead letters not re-driven yet (of ``topic``'s ``.dlq``, or all)."""
        async with self._consumer() as consumer:
            return (await self._read(consumer, topic)).messages

    async def redrive(
        self, topic: str | None = None, durability: KafkaDurability = SINGLE_BROKER
    ) -> list[DeadLetterMessage]:
        """Publish the pending dead letters to their original topics, then remember them as
        re-driven (a failure in between re-drives them again: the inboxes absorb that)."""
        async with self._consumer() as consumer:
            pending = await self._read(consumer, topic)
            if not pending.ends:
                return []
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"{self.service}-{REDRIVE_GROUP}",
                **durability.producer_options(),
            )
            await producer.start()
            try:
                for message in pending.messages:
                    headers = [
                        (name, value.encode())
                        for name, value in message.headers.items()
                        if not name.startswith("x-")
                    ]
                    headers.append(("x-redriven-from", message.dlq_topic.encode()))
                    await producer.send_and_wait(
                        message.original_topic, message.value, key=message.key, headers=headers
                    )
            finally:
                await producer.stop()
            await consumer.commit(
                {tp: OffsetAndMetadata(end, "") for tp, end in pending.ends.items()}
            )
            return pending.messages

    @asynccontextmanager
    async def _consumer(self) -> AsyncIterator[AIOKafkaConsumer]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=f"{self.service}.{REDRIVE_GROUP}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            yield consumer
        finally:
            await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer, topic: str | None) -> _Pending:
        names = sorted(
            name
            for name in await consumer.topics()
            if name.endswith(DLQ_SUFFIX) and (topic is None or name == topic + DLQ_SUFFIX)
        )
        partitions = [
            TopicPartition(name, number)
            for name in names
            for number in sorted(consumer.partitions_for_topic(name) or ())
        ]
        if not partitions:
            return _Pending([], {})
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        messages: list[DeadLetterMessage] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    headers = {k: v.decode(errors="replace") for k, v in record.headers}
                    message = DeadLetterMessage(
                        tp.topic, tp.partition, record.offset, record.key, record.value or b"",
                        headers,
                    )  # fmt: skip
                    if message.consumer.startswith(f"{self.service}."):
                        messages.append(message)
        return _Pending(messages, ends)
