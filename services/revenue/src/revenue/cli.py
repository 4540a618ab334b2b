"""``revenue reconcile --account acct_… --from YYYY-MM-DD --to YYYY-MM-DD``: the ledger of a
connected account against Stripe's balance transactions of the same days (UTC, inclusive).

Prints every difference — a movement Stripe has and the ledger lacks, an entry Stripe does
not know, figures or a day that disagree — and exits 1 on any, 0 when they match to the
cent. The service itself runs the same comparison on a schedule and heals what it finds
(``revenue.service.reconciler``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from billing_kit.db import create_engine, session_factory
from billing_kit.stripe_client import stripe_client
from revenue import repository
from revenue.models import LedgerEntry
from revenue.rules import Figures, day_of, from_unix, kind_of_balance_transaction
from revenue.settings import RevenueSettings
from revenue.stripe_gateway import RevenueStripe

console = Console(soft_wrap=True)


DifferenceKind = Literal["missing", "different", "unknown"]


@dataclass(frozen=True)
class Difference:
    entry_id: str
    problem: str
    kind: DifferenceKind = "different"
    """``missing``: Stripe has the movement, the ledger not; ``different``: the entry's
    figures or day are not Stripe's; ``unknown``: Stripe has no such movement in the period."""
    transaction: dict[str, Any] | None = None
    """Stripe's balance transaction (none for ``unknown``)."""

    def __str__(self) -> str:
        return f"{self.entry_id}: {self.problem}"


_Compared = tuple[str, str, int, int, int, int, date | None]


def _figures_of(entry: LedgerEntry) -> _Compared:
    return (
        entry.kind,
        entry.currency,
        entry.gross_cents,
        entry.stripe_fee_cents,
        entry.platform_fee_cents,
        entry.net_cents,
        day_of(entry.occurred_at),
    )


def check_status(found: list[Difference]) -> str:
    """What one check of an account says: ``reconciled`` when nothing differed; ``mismatch``
    when the ledger holds an entry Stripe does not have (never removed by itself: left for
    an operator); else ``healing`` (what differed was applied and is confirmed next time)."""
    if not found:
        return "reconciled"
    return "mismatch" if any(d.kind == "unknown" for d in found) else "healing"


def differences(
    transactions: Iterable[dict[str, Any]], entries: Sequence[LedgerEntry]
) -> list[Difference]:
    """What differs between Stripe's balance transactions and the ledger's entries."""
    ledger = {entry.entry_id: entry for entry in entries}
    found: list[Difference] = []
    seen: set[str] = set()
    for txn in transactions:
        kind = kind_of_balance_transaction(txn)
        if kind is None:
            continue
        figures = Figures.from_stripe(txn)
        seen.add(figures.balance_transaction_id)
        entry = ledger.get(figures.balance_transaction_id)
        # An entry's day is its balance transaction's ``created``.
        day = day_of(from_unix(figures.created)) if figures.created is not None else None
        expected: _Compared = (
            kind,
            figures.currency,
            figures.gross,
            figures.stripe_fee,
            figures.platform_fee,
            figures.net,
            day,
        )
        txn_id = figures.balance_transaction_id
        if entry is None:
            found.append(Difference(txn_id, f"missing from the ledger: {expected}", "missing", txn))
            continue
        has = _figures_of(entry)
        if day is None:
            has = (*has[:-1], None)
        if has != expected:
            found.append(
                Difference(txn_id, f"ledger has {has}, Stripe has {expected}", "different", txn)
            )
    for entry_id, entry in ledger.items():
        if entry_id not in seen:
            found.append(
                Difference(
                    entry_id,
                    f"not a movement of this period on Stripe: {_figures_of(entry)}",
                    "unknown",
                )
            )
    return found


async def reconcile(account: str, first: date, last: date) -> list[Difference]:
    settings = RevenueSettings()
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    transactions: list[dict[str, Any]] = []
    async with stripe_client(
        settings.stripe_api_key.get_secret_value(),
        settings.stripe_api_base,
        max_network_retries=settings.stripe_max_network_retries,
    ) as client:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} balance transactions"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"reading Stripe for {account}", total=None)
            async for txn in RevenueStripe(client).balance_transactions(
                account, int(start.timestamp()), int(end.timestamp())
            ):
                transactions.append(txn)
                progress.advance(task)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session:
            entries = await repository.ledger_entries(session, account, start, end)
    finally:
        await engine.dispose()
    return differences(transactions, entries)


def command(
    account: Annotated[str, typer.Option(help="The connected account, acct_…")],
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last day")],
) -> None:
    """Compare the ledger with Stripe's balance transactions; exit 1 on any difference."""
    if last < first:
        raise typer.BadParameter("--to must be on or after --from")
    found = asyncio.run(reconcile(account, first.date(), last.date()))
    for difference in found:
        console.print(f"[red]✗[/red] {difference}", highlight=False)
    if found:
        console.print(f"{len(found)} difference(s) between the ledger and Stripe")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] the ledger of {account} matches Stripe", highlight=False)


def run(args: list[str]) -> None:
    app = typer.Typer(add_completion=False)
    app.command()(command)
    app(args, prog_name="revenue reconcile")
