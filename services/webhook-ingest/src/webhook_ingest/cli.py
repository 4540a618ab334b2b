"""``python -m webhook_ingest replay --from ... --to ...``: re-ingest Stripe's events of a
time range, with progress, and report what was missing."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime

from pydantic import TypeAdapter
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from billing_kit.runtime import Runtime
from webhook_ingest.models import kit_tables
from webhook_ingest.replicas import AgencyDirectory
from webhook_ingest.repository.store import EventStore
from webhook_ingest.service import Replay, ReplayReport
from webhook_ingest.settings import WebhookIngestSettings
from webhook_ingest.stripe_gateway import IngestStripe

_MOMENT = TypeAdapter(datetime)


def _unix(value: str) -> int:
    """Unix seconds or an ISO datetime with a time zone."""
    if value.lstrip("-").isdigit():
        return int(value)
    moment = _MOMENT.validate_python(value)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs a time zone (or use unix seconds)")
    return int(moment.timestamp())


async def replay(settings: WebhookIngestSettings, start: int, end: int) -> ReplayReport:
    runtime = Runtime(settings, kit_tables)
    store = EventStore(settings.database_url, runtime.outbox, AgencyDirectory())
    console = Console(stderr=True)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            TextColumn("scanned {task.fields[scanned]}"),
            TextColumn("ingested {task.fields[ingested]}"),
            TextColumn("duplicates {task.fields[duplicates]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("platform", total=None, scanned=0, ingested=0, duplicates=0)

            def show(account: str | None, report: ReplayReport) -> None:
                progress.update(
                    task,
                    description=account or "platform",
                    scanned=report.scanned,
                    ingested=report.ingested,
                    duplicates=report.duplicates,
                )

            replayer = Replay(store, IngestStripe(runtime.stripe))
            report = await replayer.run(start, end, show)
    finally:
        await store.close()
        await runtime.close_stripe()
        await runtime.engine.dispose()
    console.print(
        f"replayed {start}..{end}: scanned {report.scanned}, ingested {report.ingested}, "
        f"duplicates {report.duplicates}, repaired {report.repaired}"
    )
    if report.needs_attention:
        console.print(f"stored but not published (need attention): {report.needs_attention}")
    return report


def replay_command(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m webhook_ingest replay")
    parser.add_argument("--from", dest="start", type=_unix, required=True)
    parser.add_argument("--to", dest="end", type=_unix, required=True)
    args = parser.parse_args(argv)
    asyncio.run(replay(WebhookIngestSettings(), args.start, args.end))
