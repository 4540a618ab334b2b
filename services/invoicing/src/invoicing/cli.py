"""invoicing's own commands (``python -m invoicing <command>``, beside the kit's ``serve``,
``migrate``, ...):

``retries [--until-idle] [--crash-after STEP]``
    Run the SaaS-fee manual retries alone, outside the service (which runs them itself while
    ``INVOICING_RETRY_RUNNER`` is on): with its own engine of one connection, Stripe client
    and outbox. ``--crash-after`` is the crash drill: the process kills itself (SIGKILL) right
    after that Stripe call, before its result is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Annotated

import typer

from billing_kit.db import create_engine, session_factory
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from invoicing.models import kit_tables
from invoicing.saas_fees.service.retries import RetryRunner, StripeStep
from invoicing.saas_fees.stripe_gateway import CollectionsStripe
from invoicing.settings import InvoicingSettings


def _crash_after(step: str | None) -> Callable[[str], None]:
    def maybe_crash(done: str) -> None:
        if done == step:
            print(f"crashing after {done}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    return maybe_crash


async def _run_retries(until_idle: bool, crash_after: str | None) -> None:
    settings = InvoicingSettings()
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        async with stripe_client(
            settings.stripe_api_key.get_secret_value(),
            settings.stripe_api_base,
            max_network_retries=settings.stripe_max_network_retries,
        ) as client:
            runner = RetryRunner(
                session_factory(engine),
                Outbox(kit_tables.outbox),
                CollectionsStripe(client),
                settings,
                _crash_after(crash_after),
            )
            if until_idle:
                await runner.run_until_idle()
            else:
                await runner.run_forever()
    finally:
        with contextlib.suppress(Exception):
            await engine.dispose()


def retries_command(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="stop when nothing is due")
    ] = False,
    crash_after: Annotated[
        StripeStep | None,
        typer.Option(
            help="crash drill: kill this process (SIGKILL) right after this Stripe call, "
            "before its result is committed",
        ),
    ] = None,
) -> None:
    """Run the SaaS-fee manual retries."""
    asyncio.run(_run_retries(until_idle, crash_after))


def retries(args: list[str]) -> None:
    """Run the SaaS-fee manual retries alone (``--until-idle``: stop when nothing is due)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(retries_command)
    app(args, prog_name="python -m invoicing retries")
