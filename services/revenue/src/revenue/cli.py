"""revenue's own commands (``revenue <command>`` or ``python -m revenue <command>``, beside
the kit's ``serve``, ``migrate``, ...):

``reconcile --account acct_… --from YYYY-MM-DD --to YYYY-MM-DD``
    The ledger of a connected account against Stripe's balance transactions of the same
    days (UTC, inclusive). Prints every difference — a movement Stripe has and the ledger
    lacks, an entry Stripe does not know, figures or a day that disagree — and exits 1 on
    any, 0 when they match to the cent. The service itself runs the same comparison
    (``revenue.service.reconciler``) on a schedule and heals what it finds.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from billing_kit.db import create_engine, session_factory
from billing_kit.stripe_client import stripe_client
from revenue import repository
from revenue.service.reconciler import Difference, differences
from revenue.settings import RevenueSettings
from revenue.stripe_gateway import RevenueStripe

console = Console(soft_wrap=True)


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
