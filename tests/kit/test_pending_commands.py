"""Pending records (``billing_kit.pending_commands``) on a real database: a caller's key maps
to one record, a failed one starts over under a new id, a command that exists once keeps its
id, one being undone is refused for a moment, and the sweeper takes each stale record once
per round, completing it or undoing it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_devstack import Infra
from billing_kit import idempotency
from billing_kit.command_sweeper import COMMANDS_SWEPT, CommandSweeper, completing
from billing_kit.db import unit_of_work
from billing_kit.errors import StripeFailedError, UnavailableError, ValidationFailedError
from billing_kit.pending_commands import PendingCommand, PendingCommands, command_id_of
from invoicing.models import kit_tables, pending_commands
from tests.helpers.databases import service_sessions
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with service_sessions(infra.database_url, "invoicing") as made:
        yield made


@pytest.fixture
def commands(sessions: async_sessionmaker[AsyncSession]) -> PendingCommands:
    return PendingCommands(pending_commands, sessions, "kit-test")


async def opened(
    commands: PendingCommands, kind: str, request: dict[str, Any], **options: Any
) -> PendingCommand:
    """The record as a request opens it, in a transaction of the request's own (ended)."""
    async with unit_of_work(commands.sessions) as session:
        return await commands.open(session, kind, request, **options)


@contextlib.contextmanager
def keyed(sessions: async_sessionmaker[AsyncSession], key: str) -> Iterator[None]:
    """As while a request carrying ``Idempotency-Key: key`` is served."""
    request = idempotency._Pending(
        None,  # type: ignore[arg-type]  # the key's own row is not the point here
        kit_tables.idempotency,
        "caller-and-route",
        key,
        "digest",
    )
    token = idempotency._PENDING.set(request)
    try:
        yield
    finally:
        idempotency._PENDING.reset(token)


async def test_a_key_maps_to_one_record_and_a_failed_one_starts_over(
    sessions: async_sessionmaker[AsyncSession], commands: PendingCommands
) -> None:
    key = uuid.uuid4().hex
    with keyed(sessions, key):
        first = await opened(commands, "k", {"n": 1}, agency_id="a")
        again = await opened(commands, "k", {"n": 1}, agency_id="a")
        assert (again.id, again.status) == (first.id, "pending")
        await commands.settle(first.id, "failed")
        fresh = await opened(commands, "k", {"n": 1}, agency_id="a")
        assert fresh.id != first.id
        assert fresh.status == "pending"
        await commands.settle(fresh.id, "undoing")
        with pytest.raises(UnavailableError):
            await opened(commands, "k", {"n": 1}, agency_id="a")
    unkeyed = [await opened(commands, "k", {"n": 1}) for _ in range(2)]
    assert unkeyed[0].id != unkeyed[1].id


async def test_a_command_that_exists_once_keeps_its_id(commands: PendingCommands) -> None:
    command_id = command_id_of("customer", uuid.uuid4().hex)
    first = await opened(commands, "c", {"n": 1}, command_id=command_id)
    assert first.id == command_id
    await commands.settle(command_id, "failed")
    again = await opened(commands, "c", {"n": 2}, command_id=command_id)
    assert (again.id, again.status, again.request) == (command_id, "pending", {"n": 2})


async def test_the_sweeper_completes_or_undoes_each_stale_record_once_a_round(
    sessions: async_sessionmaker[AsyncSession], commands: PendingCommands
) -> None:
    kind = f"kind-{uuid.uuid4().hex[:8]}"
    made = [await opened(commands, kind, {"refused": refused}) for refused in (False, True)]
    stuck = await opened(commands, f"{kind}-stuck", {})
    completed: list[str] = []

    async def complete(session: AsyncSession, command: PendingCommand) -> None:
        if command.request["refused"]:
            raise StripeFailedError()
        completed.append(command.id)
        await commands.finish(session, command, {"made": True})

    async def undo(command: PendingCommand) -> None:
        await commands.settle(command.id, "failed")

    async def away(session: AsyncSession, command: PendingCommand) -> None:
        raise ConnectionError("the database went away")  # tried again next round

    sweeper = CommandSweeper(
        commands,
        {
            kind: completing(commands, complete, undo),
            f"{kind}-stuck": completing(commands, away, undo),
        },
        after=timedelta(0),
    )
    before = COMMANDS_SWEPT.labels("kit-test", kind, "done")._value.get()
    assert await sweeper.sweep() >= 3  # each once, the stuck one too, and the round ends
    assert COMMANDS_SWEPT.labels("kit-test", f"{kind}-stuck", "retry")._value.get() == 1
    assert completed == [made[0].id]
    statuses = {c.id: (await commands.get(c.id)) for c in (*made, stuck)}
    assert {i: c.status for i, c in statuses.items() if c is not None} == {
        made[0].id: "done",
        made[1].id: "failed",
        stuck.id: "pending",
    }
    assert COMMANDS_SWEPT.labels("kit-test", kind, "done")._value.get() == before + 1
    assert await commands.take_stale(timedelta(minutes=5)) is None  # none left to take


async def test_a_key_used_again_with_other_content_is_refused(
    sessions: async_sessionmaker[AsyncSession], commands: PendingCommands
) -> None:
    with keyed(sessions, uuid.uuid4().hex):
        first = await opened(commands, "k", {"workspace_id": "ws-a"}, agency_id="a")
        with pytest.raises(ValidationFailedError):
            await opened(commands, "k", {"workspace_id": "ws-b"}, agency_id="a")
        again = await opened(commands, "k", {"workspace_id": "ws-a"}, agency_id="a")
    assert again.id == first.id


async def test_the_sweeper_waits_for_a_request_working_the_record_and_keeps_its_result(
    commands: PendingCommands,
) -> None:
    kind = f"kind-{uuid.uuid4().hex[:8]}"
    made: list[str] = []

    async def complete(session: AsyncSession, command: PendingCommand) -> None:
        made.append(command.id)
        await commands.finish(session, command, {"by": "sweeper"})

    async def undo(command: PendingCommand) -> None:
        raise AssertionError("a completed record is never undone")

    sweeper = CommandSweeper(
        commands, {kind: completing(commands, complete, undo)}, after=timedelta(0)
    )
    async with unit_of_work(commands.sessions) as request:  # a request still calling Stripe
        held = await commands.open(request, kind, {"n": 1})
        sweeping = asyncio.create_task(sweeper.sweep())
        await eventually(lambda: _waiting_for_a_lock(commands, sweeping), within=10)
        await commands.finish(request, held, {"by": "request"})
    assert await sweeping >= 1  # with what earlier tests left stale in this database
    done = await commands.get(held.id)
    assert done is not None
    assert (done.status, done.result, made) == ("done", {"by": "request"}, [])


async def _waiting_for_a_lock(commands: PendingCommands, task: asyncio.Task[int]) -> bool:
    """The sweeper's transaction is waiting for an advisory lock (the request's hold)."""
    assert not task.done(), task
    async with unit_of_work(commands.sessions) as session:
        waiting = await session.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND wait_event = 'advisory' AND query LIKE '%pending command%'"
            )
        )
        return int(waiting.scalar_one()) > 0
