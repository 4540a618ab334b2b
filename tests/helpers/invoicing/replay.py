"""Stripe's events fed to invoicing's own consumers in process, on a fresh database of their
own, through the handlers the service subscribes (without the inbox): each batch in one
transaction as the inbox applies it. What the mirror then holds and announced, and how many
statements each batch took."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.inbox import Batched, Subscriber
from billing_kit.runtime import Runtime
from invoicing.consumers import handlers
from invoicing.models import Invoice, Payment, Refund, Subscription, kit_tables
from invoicing.service.mirror import Mirror
from invoicing.service.mirror_batch import apply_event
from invoicing.settings import InvoicingSettings
from tests.helpers.databases import migrated_database
from tests.helpers.runtimes import close_runtime, service_runtime

MIRROR_CONSUMERS = ("invoice-mirror", "invoice-payments", "subscription-mirror")
_NOT_COMPARED = {"updated_at"}  # when the row was last written, not what it holds


@dataclass
class Replayed:
    """The mirror's tables (rows by key), the announcements in the order written (key, type,
    what they show) and the statements each batch took."""

    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    announced: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    statements: list[tuple[str, int, int]] = field(default_factory=list)
    """(topic, events, statements) of each batch."""
    texts: list[list[str]] = field(default_factory=list)
    """The text of each statement of each batch, in order."""
    cpu_seconds: float = 0.0
    """The process's CPU time applying the batches (the database's aside)."""


async def _apply(handler: Subscriber, session: AsyncSession, batch: list[Event]) -> None:
    """A batch into one consumer's handler, as the inbox gives it."""
    if isinstance(handler, Batched):
        await handler.apply(session, batch)
        return
    for event_ in batch:
        await handler(session, event_)
        await session.flush()
        session.expunge_all()


def _mirror_alone(runtime: Runtime) -> Subscriber:
    """The mirror an event at a time on the ORM's rows (``Mirror.build``, as the API runs
    it), without the consumers' batches: what a batch must leave."""

    async def apply(session: AsyncSession, event_: Event) -> None:
        await apply_event(Mirror.build(runtime, session), event_)

    return apply


async def _tables(session: AsyncSession) -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for model in (Invoice, Payment, Refund, Subscription):
        table = model.__table__  # type: ignore[union-attr]
        key = next(iter(table.primary_key.columns)).key
        rows = (await session.execute(select(table))).mappings()
        found[table.name] = {
            row[key]: {k: v for k, v in row.items() if k not in _NOT_COMPARED} for row in rows
        }
    return found


async def replay(
    infra: Infra,
    batches: Sequence[tuple[Topic, list[Event]]],
    *,
    one_at_a_time: bool = False,
    mirror_alone: bool = False,
) -> Replayed:
    """``batches`` applied in order by the mirror's consumers; ``one_at_a_time``: each event
    of a batch in a transaction of its own instead; ``mirror_alone``: each event by the
    mirror alone (``Mirror`` on the ORM's rows), as the inbox applies an event handler."""
    url = await migrated_database(infra.database_url, "invoicing")
    runtime = service_runtime(
        InvoicingSettings, kit_tables, infra, url, stripe_api_base=infra.stripe_api_base
    )
    subscribers = [handlers(runtime)[name] for name in MIRROR_CONSUMERS]
    if mirror_alone:
        subscribers = [(topic, _mirror_alone(runtime)) for topic, _ in subscribers]
    result = Replayed()
    executed: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        executed.append(statement)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        for topic, batch in batches:
            (handler,) = (handler for of, handler in subscribers if of == topic)
            runs = [[e] for e in batch] if one_at_a_time else [batch]
            for run in runs:
                executed.clear()
                started = time.process_time()
                async with unit_of_work(runtime.sessions) as session:
                    await _apply(handler, session, run)
                result.cpu_seconds += time.process_time() - started
                result.statements.append((topic.name, len(run), len(executed)))
                result.texts.append(list(executed))
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
        async with runtime.sessions() as session:
            result.tables = await _tables(session)
            outbox = kit_tables.outbox
            rows = await session.execute(
                select(outbox.c.key, outbox.c.event_type, outbox.c.body).order_by(outbox.c.id)
            )
            result.announced = [
                (key, kind, json.loads(body)["payload"]) for key, kind, body in rows.all()
            ]
    finally:
        await close_runtime(runtime)
    return result
