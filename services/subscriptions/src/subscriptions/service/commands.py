"""subscriptions' pending records and their sweeper: a client subscription (or a workspace's
customer) left pending by a crash or an unknown outcome is made with the same keys and
recorded (with the events the request would have published), or, when Stripe refuses it,
undone on Stripe (the subscription canceled). A subscription's move to another product is
made again with its keys (changing nothing more when it was made), or recorded failed when
Stripe refuses it. The SaaS fees' plans are swept the same way (``saas_fees.service.sweeps``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.command_sweeper import CommandSweeper, Sweep, completing
from billing_kit.pending_commands import PendingCommand
from billing_kit.runtime import Runtime
from subscriptions.service import (
    START_SUBSCRIPTION,
    Subscriptions,
    subscriptions_commands,
    withdraw_subscription,
)
from subscriptions.service.customers import CREATE_CUSTOMER
from subscriptions.service.migrations import MIGRATE_SUBSCRIPTION
from subscriptions.stripe_gateway import SubscriptionsStripe


def sweeper(runtime: Runtime, more: Mapping[str, Sweep] | None = None) -> CommandSweeper:
    """The sweeper of client subscriptions and customers, and of the kinds ``more`` handles
    (the SaaS fees' plans: ``saas_fees.service.sweeps``, joined by ``app``)."""
    commands = subscriptions_commands(runtime)
    stripe = SubscriptionsStripe(runtime.stripe)

    async def start_subscription(session: AsyncSession, command: PendingCommand) -> None:
        await Subscriptions.build(runtime, session).make_subscription(command)

    async def cancel_subscription(command: PendingCommand) -> None:
        await withdraw_subscription(stripe, commands, command)

    async def migrate_subscription(session: AsyncSession, command: PendingCommand) -> None:
        await Subscriptions.build(runtime, session).migrations.make_migration(command)

    async def create_customer(session: AsyncSession, command: PendingCommand) -> None:
        customers = Subscriptions.build(runtime, session).customers
        await customers.locked_workspace(str(command.agency_id), command.request["workspace_id"])
        await customers.record_customer(command)

    async def nothing_made(command: PendingCommand) -> None:
        await commands.settle(command.id, "failed")  # Stripe refused it: nothing was made

    settings = runtime.settings
    return CommandSweeper(
        commands,
        {
            CREATE_CUSTOMER: completing(commands, create_customer, nothing_made),
            START_SUBSCRIPTION: completing(commands, start_subscription, cancel_subscription),
            MIGRATE_SUBSCRIPTION: completing(commands, migrate_subscription, nothing_made),
            **(more or {}),
        },
        after=timedelta(seconds=settings.command_sweep_after_seconds),
        every_seconds=settings.command_sweep_every_seconds,
    )
