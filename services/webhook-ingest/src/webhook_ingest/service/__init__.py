"""The webhook-ingest rules: each verified Stripe event is stored once with its normalized
contract event (``repository.store.EventStore``); figures an event lacks are read from Stripe
only after it is durable (``service.enrichment.Enricher``); replay walks Stripe's event list
through that same path.

No HTTP here, and no SQL text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import structlog

from webhook_ingest.repository.store import EventStore
from webhook_ingest.stripe_gateway import IngestStripe

log = structlog.get_logger(__name__)

Endpoint = Literal["platform", "connect"]


async def ingest(
    store: EventStore, event: Mapping[str, Any], endpoint: Endpoint, raw: str | None = None
) -> bool:
    """Store a verified event and its contract event; False when it was a duplicate."""
    return await store.record(event, endpoint, raw)


@dataclass
class ReplayReport:
    scanned: int = 0
    ingested: int = 0
    duplicates: int = 0
    repaired: int = 0
    """Events of the range kept for attention that were stored again and published."""
    needs_attention: list[str] = field(default_factory=list)
    """Events of the range that are stored but could not be published (the first 100)."""


Progress = Callable[[str | None, ReplayReport], None]
T = TypeVar("T")

REPLAY_PAGE = 100
"""Events of Stripe's list stored together by a replay (a page of Stripe's list)."""


async def _pages(items: AsyncIterator[T], size: int) -> AsyncIterator[list[T]]:
    page: list[T] = []
    async for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


@dataclass
class Replay:
    """Re-reads Stripe's ``/v1/events`` for a time range (platform, then every connected
    account we know) and ingests what is missing through the webhook path."""

    store: EventStore
    stripe: IngestStripe

    async def run(self, start: int, end: int, progress: Progress | None = None) -> ReplayReport:
        report = ReplayReport()
        accounts: list[str | None] = [None, *await self.store.known_accounts()]
        for account in accounts:
            endpoint: Endpoint = "platform" if account is None else "connect"
            async for page in _pages(self.stripe.events(start, end, account), REPLAY_PAGE):
                # A page's events go to the store together, so its group commit takes them
                # in a few transactions (one after the other, each waited for, a long range
                # took minutes). Their order within the page is not kept: Stripe lists newest
                # first anyway, and the consumers order a Stripe object's events by Stripe's
                # own times. Every event of the page is settled before an error is raised.
                outcomes = await asyncio.gather(
                    *(ingest(self.store, e, endpoint) for e in page), return_exceptions=True
                )
                stored = [o for o in outcomes if not isinstance(o, BaseException)]
                report.scanned += len(stored)
                report.ingested += sum(stored)
                report.duplicates += len(stored) - sum(stored)
                if progress is not None:
                    progress(account, report)
                for outcome in outcomes:
                    if isinstance(outcome, BaseException):
                        raise outcome
        report.repaired = await self.store.retry_marked(start, end)
        report.needs_attention = await self.store.needing_attention(start, end)
        log.info(
            "replay finished",
            start=start,
            end=end,
            scanned=report.scanned,
            ingested=report.ingested,
            duplicates=report.duplicates,
            repaired=report.repaired,
            needs_attention=len(report.needs_attention),
        )
        return report
