"""Commands that create Stripe objects leave nothing half-made, also across a crash.

A command first commits a *pending record* in a transaction of its own; the record's id is
the id of what the command makes (the product, the subscription, the one-off invoice), so
the Stripe idempotency keys derived from it are the same whenever the command runs again.
Then it calls Stripe, and marks the record ``done`` in the same transaction as the rows and
events it writes. A caller's ``Idempotency-Key`` maps to the record (scope and key, as
``billing_kit.idempotency`` scopes them), so a retry with the same key after a first attempt
that crashed between Stripe's answer and the commit finishes that same record: the same
Stripe objects, never a second set.

A command that fails undoes what it made on Stripe and marks its record ``failed`` (or
``undoing`` when the undo itself could not reach Stripe). What a crash or an unknown outcome
leaves ``pending`` or ``undoing`` is taken by the service's sweeper
(``billing_kit.command_sweeper``) once the record has not moved for a while: it runs the
command again with the same keys (completing it, with the events the command would have
published) or undoes it.

Whoever works a record (the request, a retry with the same key, the sweeper) first holds it:
a lock of the record's id in the worker's own transaction, then the record read again. So
one worker at a time completes or undoes it, and each sees what the one before it left
(done: nothing to make; undoing: nothing to complete). A retry whose key names an earlier
request of other content is refused (422), as the key itself would be.

The crash drill (``crash_after_stripe``, a development setting) kills the process where a
command completes: after its Stripe calls succeeded, before its commit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

import structlog
from prometheus_client import Gauge
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_kit.db import unit_of_work
from billing_kit.errors import StripeFailedError, UnavailableError, ValidationFailedError
from billing_kit.idempotency import current_key

log = structlog.get_logger(__name__)

Status = Literal["pending", "done", "undoing", "failed"]

PENDING_COMMANDS = Gauge(
    "pending_commands",
    "Commands whose Stripe objects are not known to be complete or undone (pending or "
    "undoing), by kind; the sweeper finishes them",
    ["service", "kind"],
    multiprocess_mode="livemax",
)


def pending_commands_table(metadata: MetaData) -> Table:
    return Table(
        "pending_commands",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("kind", String(60), nullable=False),
        Column("agency_id", String(100)),
        Column("idempotency_scope", String(200)),
        Column("idempotency_key", String(255)),
        Column("request", JSONB, nullable=False),
        Column("result", JSONB),
        Column("status", String(20), nullable=False),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        UniqueConstraint("idempotency_scope", "idempotency_key"),
        Index(None, "status", "updated_at"),
    )


_HOLD = text("SELECT pg_advisory_xact_lock(hashtext('pending command ' || :id))")


def command_id_of(*parts: str) -> str:
    """The id of a command that exists once for ``parts`` (agency, workspace, ...)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(("billing", *parts))))


@dataclass(frozen=True)
class PendingCommand:
    id: str
    kind: str
    agency_id: str | None
    request: dict[str, Any]
    result: dict[str, Any] | None
    status: Status
    attempts: int

    @classmethod
    def of(cls, row: Any) -> PendingCommand:
        return cls(
            id=row.id,
            kind=row.kind,
            agency_id=row.agency_id,
            request=dict(row.request),
            result=None if row.result is None else dict(row.result),
            status=row.status,
            attempts=row.attempts,
        )


class Commands(Protocol):
    """The port a service's rules use for its pending records: ``PendingCommands`` in the
    services, an in-memory fake in their unit tests."""

    async def open(
        self,
        session: AsyncSession,
        kind: str,
        request: Mapping[str, Any],
        *,
        agency_id: str | None = None,
        command_id: str | None = None,
        keyed: bool = True,
    ) -> PendingCommand: ...

    async def finish(
        self, session: AsyncSession, command: PendingCommand, result: Mapping[str, Any]
    ) -> None: ...

    async def settle(
        self, command_id: str, status: Status, result: Mapping[str, Any] | None = None
    ) -> None: ...

    async def withdraw(
        self, command_id: str, undo: Awaitable[None]
    ) -> StripeFailedError | None: ...

    def work_soon(self, command_ids: Iterable[str]) -> None: ...


class PendingCommands:
    """The pending records of one service's schema."""

    def __init__(
        self,
        table: Table,
        sessions: async_sessionmaker[AsyncSession],
        service: str,
        *,
        crash_after_stripe: str | None = None,
    ) -> None:
        self.table = table
        self.sessions = sessions
        self.service = service
        self.crash_after_stripe = crash_after_stripe
        """The command kind whose completion SIGKILLs the process (the crash drill)."""
        self.asked: list[str] = []
        """Records a request opened to be worked after its answer (``work_soon``)."""
        self.wake = asyncio.Event()

    def work_soon(self, command_ids: Iterable[str]) -> None:
        """Have the service's sweeper work these records now rather than once stale: a
        request that opens several records answers first (202); a crash before they are
        worked leaves them to the sweeper's usual round."""
        self.asked.extend(command_ids)
        self.wake.set()

    def take_asked(self) -> list[str]:
        asked, self.asked = self.asked, []
        self.wake.clear()
        return asked

    async def open(
        self,
        session: AsyncSession,
        kind: str,
        request: Mapping[str, Any],
        *,
        agency_id: str | None = None,
        command_id: str | None = None,
        keyed: bool = True,
    ) -> PendingCommand:
        """Commit the command's pending record (a transaction of its own) and return it. With
        the request's ``Idempotency-Key`` it is the record an earlier attempt made with that
        key, as that attempt left it (``done``: nothing more to make; ``pending``: finish it
        with its id; ``undoing``: 503 until the undo is over); a ``failed`` one starts over
        with a new id, since its objects are gone. The record is returned held in the
        request's ``session`` (see ``hold``).
        ``command_id`` names a command that exists once whoever asks (the workspace's one
        customer, the agency's one account): its record is that id's, the key aside.
        ``keyed=False``: one of several records a request opens (each subscription a product
        moves off), none of them the key's."""
        table, key = self.table, current_key() if keyed else None
        row: Any
        new = insert(table).values(
            kind=kind, agency_id=agency_id, request=dict(request), status="pending"
        )
        again = {"request": dict(request), "status": "pending", "updated_at": func.now()}
        async with unit_of_work(self.sessions) as own:
            if command_id is not None:
                await own.execute(
                    new.values(id=command_id).on_conflict_do_update(
                        index_elements=[table.c.id], set_=again, where=table.c.status == "failed"
                    )
                )
                row = (await own.execute(select(table).where(table.c.id == command_id))).one()
            elif key is not None:
                scope, idempotency_key = key
                inserted = await own.execute(
                    new.values(
                        id=str(uuid.uuid4()),
                        idempotency_scope=scope,
                        idempotency_key=idempotency_key,
                    )
                    .on_conflict_do_update(
                        index_elements=[table.c.idempotency_scope, table.c.idempotency_key],
                        set_={**again, "id": str(uuid.uuid4()), "result": None},
                        where=table.c.status == "failed",
                    )
                    .returning(*table.c)
                )
                row = inserted.first()
                if row is None:  # kept as an earlier attempt left it
                    row = (
                        await own.execute(
                            select(table).where(
                                table.c.idempotency_scope == scope,
                                table.c.idempotency_key == idempotency_key,
                            )
                        )
                    ).one()
            else:
                row = (
                    await own.execute(new.values(id=str(uuid.uuid4())).returning(*table.c))
                ).one()
        if command_id is None and key is not None and dict(row.request) != dict(request):
            raise ValidationFailedError(
                "This Idempotency-Key was already used with a different request; use a new key."
            )
        return await self.hold(session, row.id)

    async def hold(self, session: AsyncSession, command_id: str) -> PendingCommand:
        """The record as it is now, held by ``session``'s transaction until it ends: any
        other worker of the same record (a retry, the sweeper) waits for it. A record being
        undone, or undone while this one waited, answers 503: the caller tries again."""
        command = await self.held_by_sweeper(session, command_id)
        if command.status in ("undoing", "failed"):
            raise UnavailableError(
                "An earlier attempt of this request is being undone; try again shortly."
            )
        return command

    async def held_by_sweeper(self, session: AsyncSession, command_id: str) -> PendingCommand:
        """``hold`` for the sweeper: the record whatever its status."""
        await session.execute(_HOLD, {"id": command_id})
        row = (await session.execute(select(self.table).where(self.table.c.id == command_id))).one()
        return PendingCommand.of(row)

    async def mark(self, session: AsyncSession, command_id: str, status: Status) -> None:
        """Set a held record's status in ``session``'s transaction."""
        await session.execute(
            self.table.update()
            .where(self.table.c.id == command_id)
            .values(status=status, updated_at=func.now())
        )

    async def current(self) -> PendingCommand | None:
        """The record the request's ``Idempotency-Key`` maps to, if it has one yet."""
        key = current_key()
        if key is None:
            return None
        table = self.table
        async with unit_of_work(self.sessions) as session:
            row = (
                await session.execute(
                    select(table).where(
                        table.c.idempotency_scope == key[0], table.c.idempotency_key == key[1]
                    )
                )
            ).first()
        return None if row is None else PendingCommand.of(row)

    async def finish(
        self, session: AsyncSession, command: PendingCommand, result: Mapping[str, Any]
    ) -> None:
        """Mark the held record done, in the transaction that writes what the command made
        (its Stripe calls are over). Under the crash drill for its kind, the process dies here."""
        if command.kind == self.crash_after_stripe:
            log.warning("crash drill: killing the process before the command's commit",
                        kind=command.kind, command_id=command.id)  # fmt: skip
            os.kill(os.getpid(), signal.SIGKILL)
        finished = await session.execute(
            self.table.update()
            .where(self.table.c.id == command.id, self.table.c.status == "pending")
            .values(status="done", result=dict(result), updated_at=func.now())
        )
        if finished.rowcount != 1:  # type: ignore[attr-defined]
            raise UnavailableError("This request was settled meanwhile; try again shortly.")

    async def settle(
        self, command_id: str, status: Status, result: Mapping[str, Any] | None = None
    ) -> None:
        """Record how a command that did not complete ended (``failed`` once undone, else
        ``undoing``), in a transaction of its own: the command's own one is rolled back."""
        values: dict[str, Any] = {"status": status, "updated_at": func.now()}
        if result is not None:
            values["result"] = dict(result)
        try:
            async with unit_of_work(self.sessions) as session:
                await session.execute(
                    self.table.update()
                    .where(self.table.c.id == command_id, self.table.c.status != "done")
                    .values(**values)
                )
        except Exception as exc:  # the sweeper finds it pending and settles it later
            log.error("could not settle a command", command_id=command_id, error=repr(exc))

    async def withdraw(self, command_id: str, undo: Awaitable[None]) -> StripeFailedError | None:
        """Undo what a command made on Stripe (``undo``) and settle its record ``failed``; when
        Stripe cannot be reached for that, it is left ``undoing`` for the sweeper and Stripe's
        failure is returned."""
        try:
            await undo
        except StripeFailedError as exc:
            await self.settle(command_id, "undoing")
            return exc
        await self.settle(command_id, "failed")
        return None

    async def take_stale(self, older_than: timedelta) -> PendingCommand | None:
        """The oldest record left pending or undoing for ``older_than``, leased to the caller
        (its ``updated_at`` moves to now, so nobody else takes it for as long again)."""
        table = self.table
        async with unit_of_work(self.sessions) as session:
            stale = (
                select(table.c.id)
                .where(
                    table.c.status.in_(("pending", "undoing")),
                    table.c.updated_at < func.now() - older_than,
                )
                .order_by(table.c.updated_at)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            row = (
                await session.execute(
                    table.update()
                    .where(table.c.id == stale)
                    .values(updated_at=func.now(), attempts=table.c.attempts + 1)
                    .returning(*table.c)
                )
            ).first()
        return None if row is None else PendingCommand.of(row)

    async def get(self, command_id: str) -> PendingCommand | None:
        async with unit_of_work(self.sessions) as session:
            row = (
                await session.execute(select(self.table).where(self.table.c.id == command_id))
            ).first()
        return None if row is None else PendingCommand.of(row)

    async def measure(self, kinds: Iterable[str] = ()) -> None:
        """Set ``pending_commands`` of each kind (``kinds`` are reported even at zero)."""
        async with unit_of_work(self.sessions) as session:
            counts = (
                await session.execute(
                    select(self.table.c.kind, func.count())
                    .where(self.table.c.status.in_(("pending", "undoing")))
                    .group_by(self.table.c.kind)
                )
            ).all()
        found = {str(kind): int(count) for kind, count in counts}
        for kind in {*kinds, *found}:
            PENDING_COMMANDS.labels(self.service, kind).set(found.get(kind, 0))
