"""The sweeper of catalog's commands: a product left pending by a crash or an unknown
outcome is made with the same keys and recorded (``product.created`` announced as the
request would have), or, when Stripe refuses it, archived on Stripe again; an agency's
connected account Stripe made before a crash is put on its profile."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.command_sweeper import CommandSweeper, completing
from billing_kit.pending_commands import PendingCommand
from billing_kit.runtime import Runtime
from catalog import repository
from catalog.service import (
    CREATE_ACCOUNT,
    CREATE_PRODUCT,
    Catalog,
    catalog_commands,
    withdraw_product,
)
from catalog.stripe_gateway import CatalogStripe


def sweeper(runtime: Runtime) -> CommandSweeper:
    commands = catalog_commands(runtime)

    async def make(session: AsyncSession, command: PendingCommand) -> None:
        await Catalog.build(runtime, session).make_product(command)

    async def create_account(session: AsyncSession, command: PendingCommand) -> None:
        agency = await repository.ensure_agency(session, str(command.agency_id))
        await Catalog.build(runtime, session).record_account(agency, command)

    async def no_account(command: PendingCommand) -> None:
        await commands.settle(command.id, "failed")  # Stripe refused it: nothing was made

    async def withdraw(command: PendingCommand) -> None:
        await withdraw_product(CatalogStripe(runtime.stripe), commands, command)

    settings = runtime.settings
    return CommandSweeper(
        commands,
        {
            CREATE_PRODUCT: completing(commands, make, withdraw),
            CREATE_ACCOUNT: completing(commands, create_account, no_account),
        },
        after=timedelta(seconds=settings.command_sweep_after_seconds),
        every_seconds=settings.command_sweep_every_seconds,
    )
