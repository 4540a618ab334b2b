"""Consumers under failure: a poison message goes to ``<topic>.dlq`` with its error after
bounded attempts; an infrastructure outage is waited out and never dead-letters; the
correlation id travels with the event."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import stripe
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

import subscriptions.models
from billing_contracts.catalog_agencies import AGENCIES, AgencyBillingProfile, AgencySuspended
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.envelope import Event
from billing_devstack import Infra
from billing_kit.inbox import Batched, Handler, Inbox, Received
from billing_kit.logging import bind_correlation_id, correlation_id
from billing_kit.runtime import Runtime
from subscriptions.settings import SubscriptionsSettings
from tests.helpers.databases import create_database, migrate
from tests.helpers.kafka import Record, read_topic
from tests.helpers.products import product_created
from tests.helpers.runtimes import service_runtime
from tests.helpers.tokens import new_agency_id

pytestmark = [pytest.mark.integration]

CONSUMER = "failures.products"


@pytest.fixture(scope="module")
async def runtime(infra: Infra) -> AsyncIterator[Runtime]:
    url = await create_database(infra.database_url, "consumer")
    await asyncio.to_thread(migrate, url, ["subscriptions"])
    runtime = service_runtime(
        SubscriptionsSettings,
        subscriptions.models.kit_tables,
        infra,
        url,
        consumer_max_attempts=3,
    )
    await runtime.broker.connect()
    yield runtime
    await runtime.broker.stop()
    await runtime.engine.dispose()


async def inbox_rows(runtime: Runtime, event_id: uuid.UUID) -> int:
    table = runtime.tables.inbox
    async with runtime.sessions() as session:
        query = select(func.count()).select_from(table).where(table.c.event_id == event_id)
        return int((await session.execute(query)).scalar_one())


def consumed(outcome: str) -> float:
    """``events_consumed_total`` of the test consumer on the products topic."""
    labels = {"service": "subscriptions", "topic": PRODUCTS.name, "consumer": CONSUMER}
    return REGISTRY.get_sample_value("events_consumed_total", {**labels, "outcome": outcome}) or 0


def batches_failed() -> float:
    labels = {"service": "subscriptions", "topic": PRODUCTS.name, "consumer": CONSUMER}
    return REGISTRY.get_sample_value("consumer_batches_failed_total", labels) or 0


def consumed_now() -> dict[str, float]:
    return {o: consumed(o) for o in ("applied", "duplicate", "failed", "dead_lettered")}


def counted_since(before: dict[str, float]) -> dict[str, float]:
    return {outcome: value - before[outcome] for outcome, value in consumed_now().items()}


async def dead_letters(infra: Infra, marker: bytes) -> list[dict[str, bytes]]:
    records = await read_topic(infra.kafka_bootstrap, PRODUCTS.dlq)
    return [dict(record.headers) for record in records if marker in (record.value or b"")]


async def test_a_handler_that_keeps_failing_dead_letters_after_bounded_attempts(
    runtime: Runtime, infra: Infra
) -> None:
    event = product_created()
    calls = 0

    async def broken(session: AsyncSession, _: Event) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("price replica is corrupt")

    before = consumed_now()
    applied = await runtime.inbox.deliver(
        PRODUCTS, CONSUMER, broken, event.model_dump_json().encode()
    )
    assert applied is False
    assert calls == 3
    assert counted_since(before) == {"applied": 0, "duplicate": 0, "failed": 3, "dead_lettered": 1}
    assert await inbox_rows(runtime, event.event_id) == 0  # nothing half-applied
    (headers,) = await dead_letters(infra, str(event.event_id).encode())
    assert headers["x-original-topic"] == PRODUCTS.name.encode()
    assert headers["x-attempts"] == b"3"
    assert b"price replica is corrupt" in headers["x-error"]


async def test_an_undecodable_message_dead_letters_at_once(runtime: Runtime, infra: Infra) -> None:
    marker = uuid.uuid4().hex
    body = f'{{"type": "product.created", "marker": "{marker}"}}'.encode()

    async def never(session: AsyncSession, _: Event) -> None:
        raise AssertionError("a message that does not decode reaches no handler")

    assert await runtime.inbox.deliver(PRODUCTS, CONSUMER, never, body) is False
    (headers,) = await dead_letters(infra, marker.encode())
    assert headers["x-attempts"] == b"1"
    assert b"ValidationError" in headers["x-error"]


async def test_a_passing_failure_is_retried_and_applied_once(
    runtime: Runtime, infra: Infra
) -> None:
    event = product_created()
    calls = 0

    async def flaky(session: AsyncSession, _: Event) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("lock timeout")

    body = event.model_dump_json().encode()
    before = consumed_now()
    assert await runtime.inbox.deliver(PRODUCTS, CONSUMER, flaky, body) is True
    assert await runtime.inbox.deliver(PRODUCTS, CONSUMER, flaky, body) is False  # redelivered
    assert calls == 2
    assert counted_since(before) == {"applied": 1, "duplicate": 1, "failed": 1, "dead_lettered": 0}
    assert await inbox_rows(runtime, event.event_id) == 1
    assert await dead_letters(infra, str(event.event_id).encode()) == []


async def _deliver_through_outage(runtime: Runtime, outage: Exception) -> tuple[Event, bool, int]:
    """A new event delivered to a handler that meets ``outage`` four times (more than
    ``consumer_max_attempts``) before it applies: the event, whether it was applied and how
    many times the handler ran."""
    event = product_created()
    calls = 0

    async def away(session: AsyncSession, _: Event) -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise outage

    applied = await runtime.inbox.deliver(
        PRODUCTS, CONSUMER, away, event.model_dump_json().encode()
    )
    return event, applied, calls


async def test_an_outage_is_waited_out_beyond_the_attempt_limit(
    runtime: Runtime, infra: Infra
) -> None:
    database_away = ConnectionRefusedError("database is restarting")
    event, applied, calls = await _deliver_through_outage(runtime, database_away)
    assert applied is True
    assert calls == 5
    assert await dead_letters(infra, str(event.event_id).encode()) == []


async def test_a_stripe_outage_is_waited_out_in_order_and_never_dead_letters(
    runtime: Runtime, infra: Infra
) -> None:
    stripe_away = stripe.APIError("An unknown error occurred", http_status=500)
    event, applied, calls = await _deliver_through_outage(runtime, stripe_away)
    assert applied is True
    assert calls == 5
    assert await dead_letters(infra, str(event.event_id).encode()) == []


async def test_the_handler_runs_under_the_event_s_correlation_id(runtime: Runtime) -> None:
    event = product_created()
    seen: list[str] = []

    async def look(session: AsyncSession, _: Event) -> None:
        seen.append(correlation_id())

    bind_correlation_id("the-caller-s-own")
    await runtime.inbox.deliver(PRODUCTS, CONSUMER, look, event.model_dump_json().encode())
    assert seen == [event.correlation_id]


async def test_the_outbox_stamps_the_current_correlation_id(runtime: Runtime) -> None:
    bind_correlation_id("request-42")
    row = runtime.outbox.row(PRODUCTS, product_created().model_copy(update={"correlation_id": ""}))
    assert row["headers"]["correlation_id"] == "request-42"
    assert '"correlation_id":"request-42"' in row["body"]


def _bodies(*events: Event) -> list[Received]:
    return [Received(e.model_dump_json().encode(), e.aggregate_id().encode()) for e in events]


async def test_a_batch_applies_each_new_event_once_in_order_in_one_transaction(
    runtime: Runtime,
) -> None:
    earlier, first, second = product_created(), product_created(), product_created()
    assert await runtime.inbox.deliver(PRODUCTS, CONSUMER, _noop, _bodies(earlier)[0][0])
    seen: list[tuple[uuid.UUID, int]] = []
    table = runtime.tables.inbox

    async def look(session: AsyncSession, event: Event) -> None:
        # The batch's own inbox rows are in the same transaction as its effects.
        claimed = select(func.count()).select_from(table).where(table.c.event_id == event.event_id)
        seen.append((event.event_id, int((await session.execute(claimed)).scalar_one())))

    before = consumed_now()
    messages = _bodies(first, earlier, second, first)  # one seen before, one twice in the batch
    applied = await runtime.inbox.deliver_batch(PRODUCTS, CONSUMER, look, messages)
    assert applied == [True, False, True, False]
    assert seen == [(first.event_id, 1), (second.event_id, 1)]
    assert counted_since(before) == {"applied": 2, "duplicate": 2, "failed": 0, "dead_lettered": 0}
    for event in (first, second):
        assert await inbox_rows(runtime, event.event_id) == 1


async def test_a_failing_event_rolls_its_batch_back_and_each_event_is_then_applied_alone(
    runtime: Runtime, infra: Infra
) -> None:
    events = [product_created() for _ in range(3)]
    calls: list[uuid.UUID] = []

    async def second_fails_once(session: AsyncSession, event: Event) -> None:
        calls.append(event.event_id)
        if event.event_id == events[1].event_id and calls.count(event.event_id) == 1:
            raise RuntimeError("lock timeout")

    before, failed_before = consumed_now(), batches_failed()
    applied = await runtime.inbox.deliver_batch(
        PRODUCTS, CONSUMER, second_fails_once, _bodies(*events)
    )
    assert applied == [True, True, True]
    assert batches_failed() == failed_before + 1
    ids = [event.event_id for event in events]
    # The batch ran up to the failure and was rolled back; then one transaction per event.
    assert calls == [ids[0], ids[1], *ids]
    assert counted_since(before) == {"applied": 3, "duplicate": 0, "failed": 0, "dead_lettered": 0}
    for event in events:
        assert await inbox_rows(runtime, event.event_id) == 1
    assert await dead_letters(infra, str(ids[1]).encode()) == []


async def test_an_undecodable_message_in_a_batch_dead_letters_and_the_rest_apply(
    runtime: Runtime, infra: Infra
) -> None:
    marker = uuid.uuid4().hex
    poison = Received(f'{{"type": "product.created", "marker": "{marker}"}}'.encode(), b"poison")
    first, second = product_created(), product_created()
    messages = [_bodies(first)[0], poison, _bodies(second)[0]]
    applied = await runtime.inbox.deliver_batch(PRODUCTS, CONSUMER, _noop, messages)
    assert applied == [True, False, True]
    (headers,) = await dead_letters(infra, marker.encode())
    assert headers["x-attempts"] == b"1"
    for event in (first, second):
        assert await inbox_rows(runtime, event.event_id) == 1


async def test_a_deadlock_between_consumers_of_one_service_is_undone_and_applied_again(
    runtime: Runtime,
) -> None:
    """Two consumers of one service commit concurrently, and their handlers lock the
    same two things in opposite orders, each holding its first until the other holds its
    own: Postgres undoes one side of the deadlock, which is applied again. Every event is
    applied once, and the conflict is counted. (Only the first event of each side locks
    in its own order: later ones, and the undone one applied again, could otherwise
    deadlock a second time, by chance.)"""
    first, second = (uuid.uuid4().int % 2**62 for _ in range(2))
    other = f"{CONSUMER}-again"
    both_hold_one = asyncio.Barrier(2)
    waited: set[str] = set()
    calls: list[uuid.UUID] = []

    def locking(side: str, *keys: int) -> Handler:
        async def handler(session: AsyncSession, event: Event) -> None:
            calls.append(event.event_id)
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            if side in waited:  # applied again, or a later event: one order, no new deadlock
                for key in sorted(keys):
                    await session.execute(lock, {"key": key})
                return
            waited.add(side)  # the first time: each side holds one, then wants the other's
            await session.execute(lock, {"key": keys[0]})
            await both_hold_one.wait()
            await session.execute(lock, {"key": keys[1]})

        return handler

    def conflicts() -> float:
        return sum(
            REGISTRY.get_sample_value(
                "consumer_transaction_conflicts_total",
                {"service": runtime.inbox.service, "consumer": consumer, "kind": "deadlock"},
            )
            or 0
            for consumer in (CONSUMER, other)
        )

    before = conflicts()
    alone_events = [product_created() for _ in range(3)]
    batched_events = [product_created() for _ in range(3)]

    async def alone() -> list[bool]:
        return [
            await runtime.inbox.deliver(PRODUCTS, CONSUMER, locking("alone", first, second), body)
            for body, _, _ in _bodies(*alone_events)
        ]

    async def batched() -> list[bool]:
        bodies = _bodies(*batched_events)
        return await runtime.inbox.deliver_batch(
            PRODUCTS, other, locking("batched", second, first), bodies
        )

    applied = await asyncio.gather(alone(), batched())
    assert list(applied) == [[True] * 3, [True] * 3]
    assert conflicts() == before + 1  # Postgres undid exactly one side
    assert len(set(calls)) == 6
    assert len(calls) > 6  # the undone side's events were applied again
    for event in alone_events + batched_events:
        assert await inbox_rows(runtime, event.event_id) == 1


async def _noop(session: AsyncSession, event: Event) -> None:
    return None


def _suspended(agency_id: str) -> AgencySuspended:
    profile = AgencyBillingProfile(
        agency_id=agency_id, stripe_account_id="acct_test", connect_status="enabled",
        charges_enabled=True, suspended=True,
    )  # fmt: skip
    return AgencySuspended(payload=profile)


def _records(topic: str, *events: Event) -> list[Record]:
    return [Record(topic, 0, n, body.body, body.key) for n, body in enumerate(_bodies(*events))]


async def test_consumers_sharing_a_batched_handler_apply_a_batch_in_one_transaction(
    runtime: Runtime,
) -> None:
    """Two consumers of different topics given one ``Batched``: the handler sees both topics'
    new events of a batch at once (each topic's in order), each consumer's inbox rows are its
    own, and the same batch read again changes nothing."""
    calls: list[list[uuid.UUID]] = []

    async def apply(session: AsyncSession, events: Sequence[Event]) -> None:
        calls.append([event.event_id for event in events])

    inbox = _shared_inbox(runtime, Batched(apply))
    products = [product_created() for _ in range(3)]
    agencies = [_suspended(new_agency_id()) for _ in range(2)]
    batch = [*_records(PRODUCTS.name, *products), *_records(AGENCIES.name, *agencies)]
    before = _shared_counts(inbox)

    await inbox.apply_records(batch)
    await inbox.apply_records(batch)  # read again: every event a duplicate

    assert calls == [[e.event_id for e in (*products, *agencies)], []]
    assert _shared_counts(inbox) == {
        name: {"applied": before[name]["applied"] + n, "duplicate": before[name]["duplicate"] + n}
        for name, n in (("shared.products", 3), ("shared.agencies", 2))
    }
    for event in (*products, *agencies):
        assert await inbox_rows(runtime, event.event_id) == 1


async def test_a_failing_shared_batch_is_applied_consumer_by_consumer(runtime: Runtime) -> None:
    """When the joint transaction fails, nothing of it stays: each consumer applies its
    part on its own (and a failing event of it alone), every event once."""
    calls: list[list[uuid.UUID]] = []
    products = [product_created() for _ in range(2)]
    agencies = [_suspended(new_agency_id())]

    async def apply(session: AsyncSession, events: Sequence[Event]) -> None:
        calls.append([event.event_id for event in events])
        if len(calls) == 1:
            raise RuntimeError("lock timeout")

    inbox = _shared_inbox(runtime, Batched(apply))
    await inbox.apply_records(
        [*_records(PRODUCTS.name, *products), *_records(AGENCIES.name, *agencies)]
    )

    product_ids, agency_ids = [e.event_id for e in products], [e.event_id for e in agencies]
    assert calls == [product_ids + agency_ids, product_ids, agency_ids]
    for event in (*products, *agencies):
        assert await inbox_rows(runtime, event.event_id) == 1


def _shared_inbox(runtime: Runtime, handler: Batched) -> Inbox:
    """An inbox of the test database whose consumers ``shared.products`` and
    ``shared.agencies`` share ``handler``."""
    inbox = Inbox(
        runtime.broker, runtime.sessions, runtime.tables.inbox, service="shared", max_batch=50
    )
    inbox.subscribe(PRODUCTS, "products", handler)
    inbox.subscribe(AGENCIES, "agencies", handler)
    return inbox


def _shared_counts(inbox: Inbox) -> dict[str, dict[str, float]]:
    counts: dict[str, dict[str, float]] = {}
    for consumer in inbox.consumers:
        labels = {"service": "shared", "topic": consumer.topic.name, "consumer": consumer.name}
        counts[consumer.name] = {
            outcome: REGISTRY.get_sample_value(
                "events_consumed_total", {**labels, "outcome": outcome}
            )
            or 0
            for outcome in ("applied", "duplicate")
        }
    return counts
