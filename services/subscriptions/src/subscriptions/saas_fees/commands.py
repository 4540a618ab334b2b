"""The SaaS fees' pending records: a platform plan or an agency's plan left pending by a
crash or an unknown outcome is made with the same keys and recorded (with the events the
request would have published), or, when Stripe refuses it, undone on Stripe (the plan's
product archived, the agency's subscription canceled). Their sweeps join the service's
sweeper (``subscriptions.commands.sweeper``, wired by ``app``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.command_sweeper import Sweep, completing
from billing_kit.pending_commands import PendingCommand
from billing_kit.runtime import Runtime
from subscriptions.saas_fees.models import PlatformPlan
from subscriptions.saas_fees.service import (
    CREATE_PLAN,
    START_AGENCY_PLAN,
    PlatformPlans,
    plans_commands,
)
from subscriptions.saas_fees.stripe_gateway import PlatformStripe


def sweeps(runtime: Runtime) -> dict[str, Sweep]:
    """The sweeper's handlers of the plans' kinds."""
    commands = plans_commands(runtime)
    platform = PlatformStripe(runtime.stripe)

    async def create_plan(session: AsyncSession, command: PendingCommand) -> None:
        await PlatformPlans.build(runtime, session).make_plan(command)

    async def archive_plan(command: PendingCommand) -> None:
        await commands.withdraw(command.id, platform.withdraw_plan(command.id))

    async def start_agency_plan(session: AsyncSession, command: PendingCommand) -> None:
        plan = await session.get(PlatformPlan, command.request["plan_id"])
        assert plan is not None
        await PlatformPlans.build(runtime, session).make_agency_plan(command, plan)

    async def cancel_agency_plan(command: PendingCommand) -> None:
        account_id = command.request["account_id"]
        await commands.withdraw(command.id, platform.withdraw_agency_plan(account_id, command.id))

    return {
        CREATE_PLAN: completing(commands, create_plan, archive_plan),
        START_AGENCY_PLAN: completing(commands, start_agency_plan, cancel_agency_plan),
    }
