"""The sweeper of invoicing's commands: a one-off invoice left pending by a crash or an
unknown outcome is issued with the same keys and mirrored (announced as the request would
have), or, when Stripe refuses it, withdrawn; one left undoing is withdrawn."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.command_sweeper import CommandSweeper, completing
from billing_kit.pending_commands import PendingCommand
from billing_kit.runtime import Runtime
from invoicing.service import (
    ONE_OFF_INVOICE,
    Invoicing,
    WorkspaceCustomer,
    invoicing_commands,
    one_off_invoice,
    withdraw_one_off,
)
from invoicing.stripe_gateway import InvoicingStripe


class _NoCustomerRequests:
    """The sweeper finishes commands whose customer is already in their record."""

    async def customer_for(self, agency_id: str, workspace_id: str) -> WorkspaceCustomer:
        raise RuntimeError("the sweeper asks for no customer")


def sweeper(runtime: Runtime) -> CommandSweeper:
    commands = invoicing_commands(runtime)
    stripe = InvoicingStripe(runtime.stripe)

    async def issue(session: AsyncSession, command: PendingCommand) -> None:
        issued = await stripe.issue_one_off(one_off_invoice(command))
        invoicing = Invoicing.build(runtime, session, _NoCustomerRequests())
        await invoicing.record_one_off(command, issued)

    async def withdraw(command: PendingCommand) -> None:
        await withdraw_one_off(stripe, commands, command)

    settings = runtime.settings
    return CommandSweeper(
        commands,
        {ONE_OFF_INVOICE: completing(commands, issue, withdraw)},
        after=timedelta(seconds=settings.command_sweep_after_seconds),
        every_seconds=settings.command_sweep_every_seconds,
    )
