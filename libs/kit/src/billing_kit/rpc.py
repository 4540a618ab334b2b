"""Request/reply over Kafka, FastStream's way: a request carries ``reply_to`` and
``correlation_id`` headers; the responder publishes its answer to ``reply_to`` with the same
``correlation_id`` (explicitly rather than by returning it, so a failed reply publish is an
error of the handler, not something the framework's silenced logger swallows).

Every replica of a requester reads its whole reply topic without a consumer group, so a reply
reaches the replica that asked whichever partition it lands on; each replica keeps only the
replies it is waiting for. Nothing is stored: a request whose reply does not come in time is
refused as unavailable and may simply be asked again, so responders must be idempotent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from billing_contracts.topics import RequestChannel
from billing_kit.errors import UnavailableError
from billing_kit.runtime import Runtime

log = structlog.get_logger(__name__)
R = TypeVar("R", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)


class KafkaRequester:
    """Sends requests and waits for their replies on ``reply_topic``."""

    def __init__(self, runtime: Runtime, reply_topic: str) -> None:
        self.broker = runtime.broker
        self.reply_topic = reply_topic
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._listening_now = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

        async def on_reply(message: KafkaMessage) -> None:
            future = self._waiting.get(message.correlation_id)
            if future is not None and not future.done():
                future.set_result(message.body)

        on_reply.__name__ = f"replies_{reply_topic.replace('.', '_').replace('-', '_')}"
        self._subscriber = self.broker.subscriber(
            reply_topic,
            group_id=None,
            auto_offset_reset="latest",
            ack_policy=AckPolicy.ACK_FIRST,
            no_reply=True,
            title=f"replies:{reply_topic}",
        )
        self._subscriber(on_reply)
        runtime.create_topic(reply_topic)
        runtime.on_startup(self._start_listening)
        runtime.on_shutdown(self._stop_listening)

    async def _start_listening(self) -> None:
        self._listener = asyncio.create_task(
            self._listening(), name=f"{self.reply_topic}-listening"
        )

    async def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()

    async def _listening(self) -> None:
        """Let requests go once the reply consumer holds every partition at its end: a reply
        written after that cannot be missed (``latest`` is otherwise resolved lazily)."""
        consumer = self._subscriber.consumer
        assert consumer is not None, "the broker starts its subscribers first"
        # A consumer without a group takes every partition once metadata arrives, and tells
        # no listener about it: look until it has them.
        while not consumer.assignment():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)
        self._listening_now.set()

    async def request(
        self,
        topic: str,
        *,
        key: str,
        body: BaseModel,
        reply: type[R],
        timeout: float = 10.0,  # noqa: ASYNC109 -- the budget of one round trip, not a cancel
    ) -> R:
        """Publish ``body`` to ``topic`` and return the reply; ``UnavailableError`` when the
        broker refuses the request or no reply comes within ``timeout`` seconds."""
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[correlation_id] = future
        try:
            async with asyncio.timeout(timeout):
                # A request sent before the reply consumer listens could lose its reply.
                await self._listening_now.wait()
                await self.broker.publish(
                    body,
                    topic=topic,
                    key=key.encode(),
                    reply_to=self.reply_topic,
                    correlation_id=correlation_id,
                )
                raw = await future
        except KafkaError as exc:
            raise UnavailableError(f"The broker refused a request to {topic}.") from exc
        except TimeoutError as exc:
            raise UnavailableError(
                f"No reply to a request on {topic} within {timeout:g} s; try again shortly."
            ) from exc
        finally:
            self._waiting.pop(correlation_id, None)
        return reply.model_validate_json(raw)


def serve_requests(
    runtime: Runtime, channel: RequestChannel, consumer: str, answer: Callable[[Q], Awaitable[R]]
) -> None:
    """Answer ``channel``'s requests as consumer group ``<service>.<consumer>``: ``answer``'s
    result goes to the request's ``reply_to``, keyed like the request. An answer that raises
    sends no reply (the requester times out and may ask again)."""
    request_type: type[BaseModel] = channel.request

    async def on_request(message: KafkaMessage) -> None:
        if not message.reply_to:
            log.warning("request without reply_to ignored", topic=channel.name)
            return
        try:
            reply = await answer(request_type.model_validate_json(message.body))  # type: ignore[arg-type]
        except Exception:
            log.exception("request not answered", topic=channel.name)
            raise
        await runtime.broker.publish(
            reply,
            topic=message.reply_to,
            key=getattr(message.raw_message, "key", None),
            correlation_id=message.correlation_id,
        )

    on_request.__name__ = f"{consumer}_{channel.name.replace('.', '_').replace('-', '_')}"
    runtime.create_topic(channel.name)
    runtime.broker.subscriber(
        channel.name,
        group_id=f"{runtime.inbox.service}.{consumer}",
        # A new group starts from the beginning so requests sent while it first joins are
        # answered; answering an old one again is harmless (responders are idempotent and
        # a requester ignores replies it is not waiting for).
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK_FIRST,
        session_timeout_ms=runtime.settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=runtime.settings.consumer_heartbeat_interval_ms,
        no_reply=True,
        title=f"{consumer}:{channel.name}",
    )(on_request)
