"""The kit's ``PendingCommands`` of one schema, in memory, for the services' unit tests: the
port their rules open, finish and settle pending records through (``billing_kit.pending_commands
.Commands``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.errors import StripeFailedError, UnavailableError, ValidationFailedError
from billing_kit.pending_commands import PendingCommand, Status


@dataclass
class FakeCommands:
    """Records by id, mapped from the request's ``Idempotency-Key`` (``idempotency_key``, None:
    the request has none). ``open``, ``settle`` and ``withdraw`` commit at once, as the kit's
    do; ``finish`` joins the caller's transaction: applied at once, or, with ``defer_finish``,
    kept until the unit of work calls ``commit`` (``rollback`` drops it)."""

    session: AsyncSession | None = None
    """The edge's session the records must be written in (None: not checked)."""
    defer_finish: bool = False
    records: dict[str, PendingCommand] = field(default_factory=dict)
    idempotency_key: str | None = None
    by_key: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    finishing: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _in(self, session: AsyncSession) -> None:
        assert self.session is None or session is self.session, (
            "a record written outside the command's transaction"
        )

    def put(self, kind: str, request: Mapping[str, Any], **values: Any) -> PendingCommand:
        """A record as a request (or a crash) left it."""
        values = {"id": str(uuid.uuid4()), "agency_id": None, "status": "pending", **values}
        record = PendingCommand(kind=kind, request=dict(request), result=None, attempts=0, **values)
        self.records[record.id] = record
        return record

    def status(self, command_id: str) -> Status:
        return self.records[command_id].status

    def statuses(self) -> dict[str, Status]:
        return {c.id: c.status for c in self.records.values()}

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
        self._in(session)
        key = self.idempotency_key if keyed and command_id is None else None
        known = self.records.get(command_id or self.by_key.get(key or "", ""))
        if known is None or known.status == "failed":  # a failed one starts over
            if known is not None:
                self.records.pop(known.id)
            known = self.put(kind, request, agency_id=agency_id, id=command_id or str(uuid.uuid4()))
            if key is not None:
                self.by_key[key] = known.id
        if key is not None and known.request != dict(request):
            raise ValidationFailedError("This Idempotency-Key was already used.")
        if known.status == "undoing":
            raise UnavailableError("An earlier attempt is being undone.")
        return known

    async def finish(
        self, session: AsyncSession, command: PendingCommand, result: Mapping[str, Any]
    ) -> None:
        self._in(session)
        if self.records[command.id].status != "pending":
            raise UnavailableError("This request was settled meanwhile.")
        self.finishing.append((command.id, dict(result)))
        if not self.defer_finish:
            self.commit()

    def commit(self) -> None:
        for command_id, result in self.finishing:
            self.records[command_id] = replace(
                self.records[command_id], status="done", result=result
            )
        self.finishing.clear()

    def rollback(self) -> None:
        self.finishing.clear()

    async def settle(
        self, command_id: str, status: Status, result: Mapping[str, Any] | None = None
    ) -> None:
        record = self.records[command_id]
        if record.status != "done":
            kept = record.result if result is None else dict(result)
            self.records[command_id] = replace(record, status=status, result=kept)

    async def withdraw(self, command_id: str, undo: Awaitable[None]) -> StripeFailedError | None:
        try:
            await undo
        except StripeFailedError as exc:
            await self.settle(command_id, "undoing")
            return exc
        await self.settle(command_id, "failed")
        return None

    def work_soon(self, command_ids: Iterable[str]) -> None:
        self.asked.extend(command_ids)
