"""The sweeper of catalog's commands: a product left pending by a crash or an unknown
outcome is made with the same keys and recorded (``product.created`` announced as the
request would have), or, when Stripe refuses it, archived on Stripe again; an agency's
connected account Stripe made before a crash is put on its profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.command_sweeper import CommandSweeper, completing
from billing_kit.pending_commands import Commands, PendingCommand
from billing_kit.runtime import Runtime
from catalog.service import (
    CREATE_ACCOUNT,
    CREATE_PRODUCT,
    Catalog,
    catalog_commands,
    withdraw_product,
)
from catalog.service.ports import StripeGateway
from catalog.stripe_gateway import CatalogStripe


@dataclass
class CatalogSweeps:
    """What the sweeper does with a stale record of each kind: complete it in the sweeper's
    transaction (a ``Catalog`` of that session), or undo it (with the Stripe gateway
    ``stripe`` makes when first needed)."""

    catalog: Callable[[AsyncSession], Catalog]
    commands: Commands
    stripe: Callable[[], StripeGateway]

    async def make_product(self, session: AsyncSession, command: PendingCommand) -> None:
        await self.catalog(session).make_product(command)

    async def withdraw_product(self, command: PendingCommand) -> None:
        await withdraw_product(self.stripe(), self.commands, command)

    async def create_account(self, session: AsyncSession, command: PendingCommand) -> None:
        catalog = self.catalog(session)
        agency = await catalog.repository.ensure_agency(str(command.agency_id))
        await catalog.record_account(agency, command)

    async def no_account(self, command: PendingCommand) -> None:
        await self.commands.settle(command.id, "failed")  # Stripe refused it: nothing was made


def sweeper(runtime: Runtime) -> CommandSweeper:
    commands = catalog_commands(runtime)

    def catalog(session: AsyncSession) -> Catalog:
        return Catalog.build(runtime, session)

    def stripe() -> StripeGateway:
        return CatalogStripe(runtime.stripe)

    sweeps = CatalogSweeps(catalog, commands, stripe)
    settings = runtime.settings
    return CommandSweeper(
        commands,
        {
            CREATE_PRODUCT: completing(commands, sweeps.make_product, sweeps.withdraw_product),
            CREATE_ACCOUNT: completing(commands, sweeps.create_account, sweeps.no_account),
        },
        after=timedelta(seconds=settings.command_sweep_after_seconds),
        every_seconds=settings.command_sweep_every_seconds,
    )
