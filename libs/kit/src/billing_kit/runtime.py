"""What the kit builds for a service: database, broker, outbox relay, inbox, Stripe client,
and the FastAPI app whose lifespan starts and stops them together."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any

import stamina
import stripe
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from sqlalchemy import Table

from billing_contracts import Topic
from billing_kit.db import create_engine, session_factory
from billing_kit.errors import (
    InternalErrorMiddleware,
    NulCharacterGuard,
    document_errors,
    install_error_handlers,
)
from billing_kit.inbox import Inbox, Subscriber
from billing_kit.kafka import broker_unreachable, ensure_topics, new_broker, rewind_past_end
from billing_kit.logging import CorrelationIdMiddleware, configure_logging
from billing_kit.observability import PROBE_PATHS, MetricsMiddleware
from billing_kit.observability import router as operations_router
from billing_kit.outbox import Outbox, OutboxRelay
from billing_kit.pending_commands import PendingCommands
from billing_kit.settings import ServiceSettings
from billing_kit.stripe_client import StripeConnection
from billing_kit.tables import KitTables
from billing_kit.tracing import UNTRACED_PATHS, configure_tracing

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """Connections and helpers of one running service."""

    settings: ServiceSettings
    tables: KitTables
    publishes: Sequence[Topic] = ()
    consumes: list[Topic] = field(default_factory=list)
    subscriptions: list[tuple[str, Topic]] = field(default_factory=list)
    """``(consumer, topic)`` of each consumer of the table (``<service>.<consumer>``, all
    read by the service's one consumer group)."""

    def __post_init__(self) -> None:
        name = self.settings.service_name
        self.engine = create_engine(
            self.settings.database_url, pool_size=self.settings.db_pool_size
        )
        self.sessions = session_factory(self.engine)
        durability = self.settings.kafka_durability
        self.broker = new_broker(self.settings.kafka_bootstrap_servers, name, durability)
        self.outbox = Outbox(self.tables.outbox)
        self.relay = OutboxRelay(
            self.engine,
            self.outbox,
            self.settings.kafka_bootstrap_servers,
            dead_letters=self.tables.dead_letters,
            name=name,
            durability=durability,
            batch_size=self.settings.outbox_batch_size,
            idle_poll_seconds=self.settings.outbox_idle_poll_seconds,
            max_message_bytes=self.settings.outbox_max_message_bytes,
        )
        self.inbox = Inbox(
            self.broker,
            self.sessions,
            self.tables.inbox,
            service=self.settings.consumer_group_prefix or name,
            max_attempts=self.settings.consumer_max_attempts,
            session_timeout_ms=self.settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self.settings.consumer_heartbeat_interval_ms,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            fetch_min_bytes=self.settings.consumer_fetch_min_bytes,
            max_batch=self.settings.consumer_max_batch,
            batch_wait_ms=self.settings.consumer_batch_wait_ms,
            linger_ms=self.settings.consumer_linger_ms,
            linger_below=self.settings.consumer_linger_below,
        )
        self._stripe: StripeConnection | None = None
        self.broker_problem: str | None = "not connected yet"
        """Why the broker is not connected or the consumers not yet reading (``/readyz``
        says so, 503), None once they are."""
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._starters: list[Callable[[], Awaitable[object]]] = []
        self._own_topics: list[str] = []
        self._pending_commands: dict[str, PendingCommands] = {}

    def on_shutdown(self, close: Callable[[], Awaitable[None]]) -> None:
        """Close a resource of the service's own (a pool, a client) when the service stops."""
        self._closers.append(close)

    def on_startup(self, start: Callable[[], Awaitable[object]]) -> None:
        """Run ``start`` once the broker and its subscribers are up (in the background, like
        the connection itself: serving does not wait for it)."""
        self._starters.append(start)

    def run_alongside(self, name: str, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A task of the service's own (a runner, a sweeper, a schedule) that lives as long as
        the service: started with the consumers, cancelled when the service stops."""
        tasks: list[asyncio.Task[None]] = []

        async def start() -> None:
            tasks.append(asyncio.create_task(make(), name=name))

        async def stop() -> None:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        self.on_startup(start)
        self.on_shutdown(stop)

    def create_topic(self, name: str) -> None:
        """Create ``name`` at start-up too (a topic outside the event contracts)."""
        self._own_topics.append(name)

    def subscribe(self, topic: Topic, consumer: str, handler: Subscriber) -> None:
        self.consumes.append(topic)
        self.subscriptions.append((consumer, topic))
        self.inbox.subscribe(topic, consumer, handler)

    def subscribe_all(self, handlers: Mapping[str, tuple[Topic, Subscriber]]) -> None:
        """Subscribe a service's table of consumers: consumer → (topic, what its events are
        given to), in the table's order; the whole table is read as one consumer group."""
        for consumer, (topic, handler) in handlers.items():
            self.subscribe(topic, consumer, handler)

    def pending_commands(self, table: Table) -> PendingCommands:
        """The service's pending records (``table``), with its crash drill if armed: one
        object per table, shared by requests and the sweeper."""
        if table.name not in self._pending_commands:
            self._pending_commands[table.name] = PendingCommands(
                table,
                self.sessions,
                self.settings.service_name,
                crash_after_stripe=self.settings.crash_after_stripe,
            )
        return self._pending_commands[table.name]

    @property
    def stripe(self) -> stripe.StripeClient:
        if self._stripe is None:
            self._stripe = StripeConnection(
                self.settings.stripe_api_key.get_secret_value(),
                self.settings.stripe_api_base,
                max_network_retries=self.settings.stripe_max_network_retries,
            )
        return self._stripe.client

    async def close_stripe(self) -> None:
        """Close the Stripe client's connections (a command that used it, on its way out)."""
        if self._stripe is not None:
            await self._stripe.close()
            self._stripe = None

    def topic_names(self) -> Iterable[str]:
        for topic in (*self.publishes, *self.consumes):
            yield topic.name
            yield topic.dlq
        yield from self._own_topics

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Serve at once; connect consumers and the outbox relay in the background as soon as
        the broker answers (outbox rows wait meanwhile); stop them all on exit."""
        name = self.settings.service_name
        background = [
            asyncio.create_task(self._connect_then_relay(), name=f"{name}-broker"),
            asyncio.create_task(self._measure_backlog(), name=f"{name}-outbox-backlog"),
            asyncio.create_task(self._keep_consumers_within_topics(), name=f"{name}-positions"),
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.relay.stop()
            await self.broker.stop()
            for close in reversed(self._closers):
                await close()
            await self.close_stripe()
            await self.engine.dispose()

    async def _connect_then_relay(self) -> None:
        """Once the topics exist the relay publishes, whatever the subscribers do: a consumer
        group slow to form never holds back what the service has to say."""
        try:
            await self._until_broker_answers(self._create_topics)
        except Exception as exc:  # a refusal, not an outage: waiting would not help
            self.broker_problem = repr(exc)
            log.exception("broker refused the connection")
            return
        log.info("outbox relay started", service=self.settings.service_name)
        self.broker_problem = "consumers starting"
        async with asyncio.TaskGroup() as running:
            running.create_task(self.relay.run(), name=f"{self.settings.service_name}-relay")
            await self._start_subscribers()

    async def _start_subscribers(self) -> None:
        try:
            await self._until_broker_answers(self._start_broker)
        except Exception as exc:
            self.broker_problem = repr(exc)
            log.exception("broker refused the consumers")
            return
        for start in self._starters:
            await start()
        self.broker_problem = None
        log.info("broker connected", service=self.settings.service_name)

    async def _measure_backlog(self) -> None:
        """Keeps the outbox backlog metrics current, the database permitting."""
        while True:
            try:
                await self.relay.backlog()
            except Exception as exc:
                log.debug("outbox backlog not measured", error=repr(exc))
            await asyncio.sleep(self.settings.outbox_backlog_sample_seconds)

    async def _keep_consumers_within_topics(self) -> None:
        """Every few seconds, a subscriber reading past the end of a partition (its topic
        made again by a broker that lost it) is moved back to the partition's beginning."""
        while True:
            await asyncio.sleep(self.settings.consumer_position_check_seconds)
            for subscriber in self.broker.subscribers:
                consumer = getattr(subscriber, "consumer", None)
                if not isinstance(consumer, AIOKafkaConsumer):
                    continue
                try:
                    rewound = await rewind_past_end(consumer)
                except KafkaError as exc:
                    log.debug("consumer positions not checked", error=repr(exc))
                    continue
                for partition in rewound:
                    log.warning("partition started over; reading it from its beginning",
                                topic=partition.topic, partition=partition.partition)  # fmt: skip

    async def _create_topics(self) -> None:
        try:
            await ensure_topics(
                self.settings.kafka_bootstrap_servers,
                self.topic_names(),
                durability=self.settings.kafka_durability,
            )
        except Exception as exc:
            if broker_unreachable(exc):
                raise
            # Refused (a policy, an ACL): topics made by an operator may exist anyway; a row
            # whose topic stays unknown is dead-lettered by the relay instead of stalling.
            log.error("topics could not be created", error=repr(exc))

    async def _start_broker(self) -> None:
        """What ``broker.start()`` does, with the subscribers started together: each one's
        start waits for its consumer group to hand it partitions (a join, ~3 s on the
        embedded broker). The service's consumer group first takes over, if it is new,
        from the consumer groups its consumers were before."""
        self.inbox.consume()
        try:
            await self.broker.connect()
            await self._take_over()
            try:
                async with asyncio.TaskGroup() as starting:
                    for subscriber in self.broker.subscribers:
                        starting.create_task(subscriber.start())
            except ExceptionGroup as failed:  # judged by its first cause: an outage or not
                raise failed.exceptions[0] from failed
            for publisher in self.broker.publishers:
                await publisher.start()
            self.broker.running = True
        except Exception:
            await self.broker.stop()  # a half-made connection is dropped before the next try
            raise

    async def _take_over(self) -> None:
        try:
            await self.inbox.take_over(self.settings.kafka_bootstrap_servers)
        except Exception as exc:
            if broker_unreachable(exc):
                raise
            # Refused: the group reads from the topics' beginnings, its inbox skipping what
            # its consumers applied already.
            log.error("consumer group could not take over", error=repr(exc))

    async def _until_broker_answers(self, step: Callable[[], Awaitable[None]]) -> None:
        async for attempt in stamina.retry_context(
            on=self._broker_away,
            attempts=None,
            timeout=None,
            wait_initial=0.2,
            wait_max=self.settings.broker_retry_max_seconds,
        ):
            with attempt:
                await step()

    def _broker_away(self, exc: Exception) -> bool:
        if not broker_unreachable(exc):
            return False
        if self.broker_problem != repr(exc):
            log.warning("broker unreachable, retrying", error=repr(exc))
        self.broker_problem = repr(exc)
        return True


def build_app(runtime: Runtime, routers: Sequence[APIRouter], *, title: str) -> FastAPI:
    settings = runtime.settings
    settings.require_production_secrets()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.running():
            # What start-up made lives as long as the process: frozen out of the collector's
            # sight, full collections stay short (they showed in tail latencies).
            gc.collect()
            gc.freeze()
            yield

    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.engine = runtime.engine
    app.state.sessions = runtime.sessions
    app.state.broker = runtime.broker
    app.state.jwt_secret = settings.gateway_jwt_secret.get_secret_value()
    app.state.idempotency_table = runtime.tables.idempotency
    install_error_handlers(app)
    app.add_middleware(NulCharacterGuard)
    app.add_middleware(InternalErrorMiddleware)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(OpenTelemetryMiddleware, excluded_urls=UNTRACED_PATHS)
    app.include_router(operations_router)
    for router in routers:
        app.include_router(router)
    document_errors(app, skip=PROBE_PATHS)
    return app
