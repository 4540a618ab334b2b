"""The webhook-ingest rules: each verified Stripe event is stored once with its normalized
contract event (``store.EventStore``); figures an event lacks are read from Stripe first,
outside any transaction; replay walks Stripe's event list through that same path.

No HTTP here, and no SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from billing_contracts.billing_stripe import BalanceFigures
from webhook_ingest.normalize import figures_lookup
from webhook_ingest.store import EventStore
from webhook_ingest.stripe_gateway import IngestStripe

log = structlog.get_logger(__name__)

Endpoint = Literal["platform", "connect"]


async def read_figures(stripe: IngestStripe, event: Mapping[str, Any]) -> BalanceFigures | None:
    """Fetch what the event lacks from Stripe; done before anything is written."""
    lookup = figures_lookup(event)
    return None if lookup is None else await stripe.figures(lookup)


async def ingest(
    store: EventStore,
    stripe: IngestStripe,
    event: Mapping[str, Any],
    endpoint: Endpoint,
    raw: str | None = None,
) -> bool:
    """Store a verified event and its contract event; False when it was a duplicate."""
    figures = await read_figures(stripe, event)
    return await store.record(event, endpoint, figures, raw)


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

    store: EventStore
    stripe: IngestStripe

    async def run(self, start: int, end: int, progress: Progress | None = None) -> ReplayReport:
        report = ReplayReport()
        accounts: list[str | None] = [None, *await self.store.known_accounts()]
        for account in accounts:
            endpoint: Endpoint = "platform" if account is None else "connect"
            async for event in self.stripe.events(start, end, account):
                report.scanned += 1
                if await ingest(self.store, self.stripe, event, endpoint):
                    report.ingested += 1
                else:
                    report.duplicates += 1
                if progress is not None:
                    progress(account, report)
        log.info("replay finished", start=start, end=end, **report.__dict__)
        return report
