"""The webhook-ingest rules: store each Stripe event once and, in the same transaction, put
its normalized contract event in the outbox; replay Stripe's event list through that same
path.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_contracts.billing_stripe import BalanceFigures
from billing_kit.db import unit_of_work
from billing_kit.outbox import Outbox
from webhook_ingest import repository
from webhook_ingest.normalize import agency_from_metadata, figures_lookup, normalize
from webhook_ingest.stripe_gateway import IngestStripe

log = structlog.get_logger(__name__)

Endpoint = Literal["platform", "connect"]


class AgencyDirectory:
    """Connected account → agency, from the replica table, remembered in memory once found
    (an account never changes agency)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._known: dict[str, str] = {}
        self._limit = limit

    async def agency_of(self, session: AsyncSession, account_id: str) -> str | None:
        found = self._known.get(account_id)
        if found is None:
            found = await repository.agency_of_account(session, account_id)
            if found is not None:
                self._cache(account_id, found)
        return found

    async def remember(self, session: AsyncSession, account_id: str, agency_id: str) -> None:
        if self._known.get(account_id) == agency_id:
            return
        await repository.remember_account(session, account_id, agency_id)
        self._cache(account_id, agency_id)

    def _cache(self, account_id: str, agency_id: str) -> None:
        if len(self._known) >= self._limit:
            self._known.clear()
        self._known[account_id] = agency_id


def wake_relay_on_commit(session: AsyncSession, outbox: Outbox) -> None:
    """What ``Outbox.add`` does after its insert: the relay wakes when this commits."""
    sync_session = session.sync_session
    if not sa_event.contains(sync_session, "after_commit", outbox._on_commit):
        sa_event.listen(sync_session, "after_commit", outbox._on_commit, once=True)


@dataclass
class Ingest:
    session: AsyncSession
    outbox: Outbox
    agencies: AgencyDirectory

    async def record(
        self,
        event: Mapping[str, Any],
        endpoint: Endpoint,
        figures: BalanceFigures | None,
        raw: str | None = None,
    ) -> bool:
        """Store ``event`` (``raw``: its body as received) and its contract event; False (and
        nothing written) for a duplicate."""
        agency_id = await self._agency(event)
        normalized = normalize(event, agency_id, figures)
        row = None
        if normalized is not None:
            # One statement stores the event and, only if it is new, its outbox row.
            row = self.outbox._row(normalized.topic, normalized.event)
        stored = await repository.store_event(self.session, event, raw, endpoint, row)
        if stored and row is not None:
            wake_relay_on_commit(self.session, self.outbox)
        return stored

    async def _agency(self, event: Mapping[str, Any]) -> str | None:
        obj = event["data"]["object"]
        from_metadata = agency_from_metadata(event)
        if obj.get("object") == "account" and from_metadata and isinstance(obj.get("id"), str):
            await self.agencies.remember(self.session, obj["id"], from_metadata)
        account = event.get("account")
        if account:
            found = await self.agencies.agency_of(self.session, account)
            if found is not None:
                return found
        return from_metadata


async def read_figures(stripe: IngestStripe, event: Mapping[str, Any]) -> BalanceFigures | None:
    """Fetch what the event lacks from Stripe; done before any transaction is opened."""
    lookup = figures_lookup(event)
    return None if lookup is None else await stripe.figures(lookup)


@dataclass
class ReplayReport:
    scanned: int = 0
    ingested: int = 0
    duplicates: int = 0


Progress = Callable[[str | None, ReplayReport], None]


@dataclass
class Replay:
    """Re-reads Stripe's ``/v1/events`` for a time range (platform, then every connected
    account we know) and ingests what is missing through the webhook path."""

    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    agencies: AgencyDirectory
    stripe: IngestStripe

    async def run(self, start: int, end: int, progress: Progress | None = None) -> ReplayReport:
        report = ReplayReport()
        async with self.sessions() as session:
            accounts: list[str | None] = [None, *await repository.known_accounts(session)]
        for account in accounts:
            endpoint: Endpoint = "platform" if account is None else "connect"
            async for event in self.stripe.events(start, end, account):
                report.scanned += 1
                figures = await read_figures(self.stripe, event)
                async with unit_of_work(self.sessions) as session:
                    ingest = Ingest(session, self.outbox, self.agencies)
                    stored = await ingest.record(event, endpoint, figures)
                if stored:
                    report.ingested += 1
                else:
                    report.duplicates += 1
                if progress is not None:
                    progress(account, report)
        log.info("replay finished", start=start, end=end, **report.__dict__)
        return report
