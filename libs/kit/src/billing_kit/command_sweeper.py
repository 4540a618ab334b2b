"""The sweeper of a service's pending records (``billing_kit.pending_commands``): what a
crash or an unknown outcome left ``pending`` is completed with the command's own code and
keys, or undone on Stripe when it cannot complete; what was left ``undoing`` is undone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.db import savepoint, unit_of_work
from billing_kit.errors import StripeFailedError
from billing_kit.inbox import is_transient
from billing_kit.pending_commands import PendingCommand, PendingCommands, Status
from billing_kit.runtime import Runtime

log = structlog.get_logger(__name__)

COMMANDS_SWEPT = Counter(
    "pending_commands_swept_total",
    "Pending records the sweeper took up, by outcome: done (completed), failed (undone on "
    "Stripe) or retry (Stripe or the database was away; taken up again later)",
    ["service", "kind", "outcome"],
)


Sweep = Callable[[PendingCommand], Awaitable[Status]]
"""Finishes (``done``) or undoes (``failed``) one stale record; raises to try again later."""


def completing(
    commands: PendingCommands,
    complete: Callable[[AsyncSession, PendingCommand], Awaitable[object]],
    withdraw: Callable[[PendingCommand], Awaitable[object]],
) -> Sweep:
    """A sweeper's handler: a ``pending`` record is held (a request or retry working it is
    waited for, and what it left is read again), then completed in that transaction with the
    command's own code and keys (its rows, its events and ``done`` together). When Stripe
    refuses it, or its rows conflict with what exists (made another way meanwhile), it is
    marked ``undoing`` in the same transaction and ``withdraw`` undoes what Stripe has and
    marks it failed; a record left ``undoing`` is undone too. Stripe or the database away:
    tried again later, nothing undone."""

    async def sweep(command: PendingCommand) -> Status:
        if command.status == "pending":
            async with unit_of_work(commands.sessions) as session:
                current = await commands.held_by_sweeper(session, command.id)
                if current.status in ("done", "failed"):
                    return current.status  # settled by a request while the sweeper waited
                if current.status == "pending":
                    try:
                        async with savepoint(session):
                            await complete(session, current)
                        return "done"
                    except (StripeFailedError, IntegrityError) as exc:
                        if is_transient(exc):
                            raise
                        log.warning(
                            "a pending command cannot complete", id=command.id, error=repr(exc)
                        )
                        await commands.mark(session, command.id, "undoing")
        await withdraw(command)
        return "failed"

    return sweep


@dataclass
class CommandSweeper:
    """Takes up stale pending records one at a time, for the kinds it has a handler for."""

    commands: PendingCommands
    handlers: Mapping[str, Sweep]
    after: timedelta = timedelta(seconds=60)
    every_seconds: float = 10.0

    async def sweep(self) -> int:
        """Take up every record stale now; how many were taken up."""
        taken: set[str] = set()
        while (command := await self.commands.take_stale(self.after)) is not None:
            if command.id in taken:  # not settled this round: it waits for the next one
                break
            taken.add(command.id)
            await self._sweep_one(command)
        await self.commands.measure(self.handlers)
        return len(taken)

    async def work(self, command_ids: Iterable[str]) -> None:
        """Work these records now, as the sweeper would once stale (a request that opens
        several records answers first and has them worked after; a crash meanwhile leaves
        them to the sweeper)."""
        for command_id in command_ids:
            command = await self.commands.get(command_id)
            if command is not None and command.status in ("pending", "undoing"):
                await self._sweep_one(command)

    async def _sweep_one(self, command: PendingCommand) -> None:
        service = self.commands.service
        handler = self.handlers.get(command.kind)
        if handler is None:
            log.error("no sweeper for a pending command", kind=command.kind, id=command.id)
            COMMANDS_SWEPT.labels(service, command.kind, "retry").inc()
            return
        try:
            outcome: str = await handler(command)
        except Exception as exc:
            outcome = "retry"
            log.warning(
                "pending command not settled yet",
                kind=command.kind,
                command_id=command.id,
                attempts=command.attempts,
                error=repr(exc),
            )
        else:
            log.info("pending command swept", kind=command.kind, id=command.id, outcome=outcome)
        COMMANDS_SWEPT.labels(service, command.kind, outcome).inc()

    async def run_forever(self) -> None:
        """A round every ``every_seconds``, and whenever a request asks for records to be
        worked now (``PendingCommands.work_soon``)."""
        while True:
            try:
                await self.work(self.commands.take_asked())
                await self.sweep()
            except Exception as exc:  # the database away: try again at the next round
                log.warning("pending commands sweep failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.commands.wake.wait(), self.every_seconds)


def run_sweeper(runtime: Runtime, sweeper: CommandSweeper) -> None:
    """The sweeper lives as long as the service (every replica may run one: records are
    leased, and a command's keys make a second run harmless)."""
    runtime.run_alongside(f"{runtime.settings.service_name}-command-sweeper", sweeper.run_forever)
