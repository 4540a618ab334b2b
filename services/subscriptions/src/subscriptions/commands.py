"""subscriptions' pending records and their sweeper: a client subscription, a platform plan
or an agency's plan left pending by a crash or an unknown outcome is made with the same keys
and recorded (with the events the request would have published), or, when Stripe refuses
it, undone on Stripe (the subscription canceled, the plan's product archived). A
subscription's move to another product is made again with its keys (changing nothing more
when it was made), or recorded failed when Stripe refuses it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.command_sweeper import CommandSweeper, completing
from billing_kit.pending_commands import PendingCommand, PendingCommands
from billing_kit.runtime import Runtime
from subscriptions.customers import CREATE_CUSTOMER
from subscriptions.models import PlatformPlan, pending_commands
from subscriptions.platform_gateway import PlatformStripe
from subscriptions.platform_plans import CREATE_PLAN, START_AGENCY_PLAN, PlatformPlans
from subscriptions.service import (
    MIGRATE_SUBSCRIPTION,
    START_SUBSCRIPTION,
    Subscriptions,
    withdraw_subscription,
)
from subscriptions.stripe_gateway import SubscriptionsStripe


def subscriptions_commands(runtime: Runtime) -> PendingCommands:
    return runtime.pending_commands(pending_commands)


def subscriptions_service(runtime: Runtime, session: AsyncSession) -> Subscriptions:
    stripe = SubscriptionsStripe(runtime.stripe)
    return Subscriptions(session, runtime.outbox, stripe, subscriptions_commands(runtime))


def platform_plans(runtime: Runtime, session: AsyncSession) -> PlatformPlans:
    stripe = PlatformStripe(runtime.stripe)
    return PlatformPlans(session, runtime.outbox, stripe, subscriptions_commands(runtime))


def sweeper(runtime: Runtime) -> CommandSweeper:
    commands = subscriptions_commands(runtime)
    stripe, platform = SubscriptionsStripe(runtime.stripe), PlatformStripe(runtime.stripe)

    async def start_subscription(session: AsyncSession, command: PendingCommand) -> None:
        await subscriptions_service(runtime, session).make_subscription(command)

    async def cancel_subscription(command: PendingCommand) -> None:
        await withdraw_subscription(stripe, commands, command)

    async def migrate_subscription(session: AsyncSession, command: PendingCommand) -> None:
        await subscriptions_service(runtime, session).make_migration(command)

    async def create_plan(session: AsyncSession, command: PendingCommand) -> None:
        await platform_plans(runtime, session).make_plan(command)

    async def archive_plan(command: PendingCommand) -> None:
        await commands.withdraw(command.id, platform.withdraw_plan(command.id))

    async def create_customer(session: AsyncSession, command: PendingCommand) -> None:
        customers = subscriptions_service(runtime, session).customers
        await customers.locked_workspace(str(command.agency_id), command.request["workspace_id"])
        await customers.record_customer(command)

    async def nothing_made(command: PendingCommand) -> None:
        await commands.settle(command.id, "failed")  # Stripe refused it: nothing was made

    async def start_agency_plan(session: AsyncSession, command: PendingCommand) -> None:
        plan = await session.get(PlatformPlan, command.request["plan_id"])
        assert plan is not None
        await platform_plans(runtime, session).make_agency_plan(command, plan)

    async def cancel_agency_plan(command: PendingCommand) -> None:
        account_id = command.request["account_id"]
        await commands.withdraw(command.id, platform.withdraw_agency_plan(account_id, command.id))

    settings = runtime.settings
    return CommandSweeper(
        commands,
        {
            CREATE_CUSTOMER: completing(commands, create_customer, nothing_made),
            START_SUBSCRIPTION: completing(commands, start_subscription, cancel_subscription),
            MIGRATE_SUBSCRIPTION: completing(commands, migrate_subscription, nothing_made),
            CREATE_PLAN: completing(commands, create_plan, archive_plan),
            START_AGENCY_PLAN: completing(commands, start_agency_plan, cancel_agency_plan),
        },
        after=timedelta(seconds=settings.command_sweep_after_seconds),
        every_seconds=settings.command_sweep_every_seconds,
    )
