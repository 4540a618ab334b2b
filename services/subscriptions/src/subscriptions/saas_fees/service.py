"""The platform's SaaS fees: plans (a Product and recurring Price on the platform account)
and each agency's plan, a subscription whose customer is the agency's connected account,
paid from its Stripe balance.

Guarantees: no agency plan before Connect onboarding (``connect_required``); one plan per
agency — the agency's replica row is locked first, so two requests at once queue up and the
second is refused; a plan or an agency plan is written with its event only once Stripe made
every object, so a Stripe failure leaves no row behind. The status only moves forward, as
for client subscriptions.

The pending records' sweeps (``sweeps``): a platform plan or an agency's plan left pending by
a crash or an unknown outcome is made with the same keys and recorded (with the events the
request would have published), or, when Stripe refuses it, undone on Stripe (the plan's
product archived, the agency's subscription canceled). They join the service's sweeper
(``subscriptions.service.commands.sweeper``, wired by ``app``).

No HTTP and no SQL text here, and never a commit: the edge owns the transaction. The one
exception is a command's pending record, committed on its own before Stripe is called
(``billing_kit.pending_commands``), so a crash cannot lose what Stripe made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import subscriptions_agency_plans as contract
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.billing_gate import ensure_agency_may_bill
from billing_kit.command_sweeper import Sweep, completing
from billing_kit.errors import NotFoundError
from billing_kit.outbox import Outbox
from billing_kit.pending_commands import PendingCommand, PendingCommands
from billing_kit.runtime import Runtime
from subscriptions.models import pending_commands
from subscriptions.repository import SubscriptionsRepository
from subscriptions.saas_fees import repository as plans_repository
from subscriptions.saas_fees.errors import (
    AgencyPlanExistsError,
    AgencyPlanNotRecordedError,
    PlanArchivedError,
)
from subscriptions.saas_fees.models import AgencyPlan, PlatformPlan
from subscriptions.saas_fees.stripe_gateway import PlatformStripe

PLAN_CURRENCY = "usd"


CREATE_PLAN = "create_plan"
START_AGENCY_PLAN = "start_agency_plan"
"""Kinds of the pending records of a plan and of an agency's plan."""


def plans_commands(runtime: Runtime) -> PendingCommands:
    """The pending records of plans (in the service's table of them)."""
    return runtime.pending_commands(pending_commands)


@dataclass
class PlatformPlans:
    session: AsyncSession
    outbox: Outbox
    stripe: PlatformStripe
    commands: PendingCommands | None = None

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> PlatformPlans:
        """The service for one transaction of the edge (a request, a consumed event, a
        swept command)."""
        return cls(session, runtime.outbox, PlatformStripe(runtime.stripe), plans_commands(runtime))

    def _commands(self) -> PendingCommands:
        assert self.commands is not None, "plans are made by a service built with commands"
        return self.commands

    async def create_plan(self, name: str, amount_cents: int, interval: str) -> PlatformPlan:
        commands = self._commands()
        pending = await commands.open(
            self.session,
            CREATE_PLAN,
            {"name": name, "amount_cents": amount_cents, "interval": interval},
        )
        if pending.status == "done":
            made = await self.session.get(PlatformPlan, pending.id)
            if made is not None:
                return made
        try:
            return await self.make_plan(pending)
        except Exception:
            await commands.withdraw(pending.id, self.stripe.withdraw_plan(pending.id))
            raise

    async def make_plan(self, pending: PendingCommand) -> PlatformPlan:
        """The plan's Stripe product and price (again, under its keys) and its row, with its
        record marked done, in this transaction."""
        request = pending.request
        price = await self.stripe.create_plan_price(
            plan_id=pending.id,
            name=request["name"],
            amount_cents=request["amount_cents"],
            currency=PLAN_CURRENCY,
            interval=request["interval"],
        )
        plan = PlatformPlan(
            id=pending.id,
            name=request["name"],
            amount_cents=request["amount_cents"],
            currency=PLAN_CURRENCY,
            interval=request["interval"],
            status="active",
            stripe_product_id=price.product_id,
            stripe_price_id=price.price_id,
            created_at=datetime.now(UTC),
        )
        self.session.add(plan)
        await self.session.flush()
        await self._commands().finish(self.session, pending, {"stripe_price_id": price.price_id})
        return plan

    async def list_plans(self) -> Sequence[PlatformPlan]:
        return await plans_repository.platform_plans(self.session)

    async def start_agency_plan(self, agency_id: str, plan_id: str) -> AgencyPlan:
        agency = await SubscriptionsRepository(self.session).agency(agency_id, for_update=True)
        account_id = agency.stripe_account_id if agency else None
        # The platform charges what the agency owes even while it may not bill its clients.
        ensure_agency_may_bill(
            charges_enabled=bool(agency and agency.charges_enabled and account_id),
            suspended=False,
        )
        assert account_id is not None
        plan = await self.session.get(PlatformPlan, plan_id)
        if plan is None:
            raise NotFoundError("No such plan.")
        if plan.status != "active":
            raise PlanArchivedError()
        commands = self._commands()
        existing = await plans_repository.agency_plan(self.session, agency_id)
        if existing is not None:
            mine = await commands.current()  # this same request, finished after a crash
            if mine is not None and mine.id == existing.id:
                return existing
            raise AgencyPlanExistsError()
        pending = await commands.open(
            self.session,
            START_AGENCY_PLAN,
            {"plan_id": plan_id, "account_id": account_id},
            agency_id=agency_id,
        )
        try:
            return await self.make_agency_plan(pending, plan)
        except Exception:
            undo = self.stripe.withdraw_agency_plan(account_id, pending.id)
            await commands.withdraw(pending.id, undo)
            raise

    async def make_agency_plan(self, pending: PendingCommand, plan: PlatformPlan) -> AgencyPlan:
        """The agency plan's Stripe objects (again, under its keys), its row and
        ``agency_plan.started``, with its record marked done, in this transaction."""
        agency_id, account_id = str(pending.agency_id), pending.request["account_id"]
        payment_method_id, facts = await self.stripe.subscribe_agency(
            agency_plan_id=pending.id,
            account_id=account_id,
            price_id=plan.stripe_price_id,
            metadata={"agency_id": agency_id, "agency_plan_id": pending.id, "plan_id": plan.id},
        )
        agency_plan = AgencyPlan(
            id=pending.id,
            agency_id=agency_id,
            plan_id=plan.id,
            status=facts.status,
            status_seen_at=facts.created,
            stripe_account_id=account_id,
            stripe_subscription_id=facts.subscription_id,
            stripe_payment_method_id=payment_method_id,
            billing_cycle_anchor=facts.billing_cycle_anchor,
            latest_invoice_id=facts.latest_invoice_id,
            latest_invoice_status=facts.latest_invoice_status,
            latest_invoice_amount_due=facts.latest_invoice_amount_due,
            created_at=datetime.now(UTC),
        )
        self.session.add(agency_plan)
        await self.session.flush()
        await self._announce(agency_plan, plan, contract.AgencyPlanStarted)
        await self._commands().finish(
            self.session, pending, {"stripe_subscription_id": facts.subscription_id}
        )
        return agency_plan

    async def agency_plan(self, agency_id: str) -> AgencyPlan:
        found = await plans_repository.agency_plan(self.session, agency_id)
        if found is None:
            raise NotFoundError("This agency has no plan.")
        return found

    async def apply_stripe_subscription(self, snapshot: StripeSubscriptionSnapshot) -> None:
        """Mirror the status Stripe reports of an agency plan, forward only; the latest
        invoice is read again when the status moves (it is what moved it)."""
        agency_plan = await plans_repository.agency_plan_by_subscription(
            self.session, snapshot.subscription_id
        )
        if agency_plan is None:
            if snapshot.metadata.get("agency_plan_id"):
                raise AgencyPlanNotRecordedError(snapshot.subscription_id)
            return  # not one of ours
        if snapshot.stripe_created < agency_plan.status_seen_at:
            return
        facts = snapshot.stripe_state or await self.stripe.retrieve_subscription(
            agency_plan.stripe_subscription_id
        )  # carried by the event since webhook-ingest reads it; older events: ask Stripe
        agency_plan.status_seen_at = snapshot.stripe_created
        agency_plan.latest_invoice_id = facts.latest_invoice_id
        agency_plan.latest_invoice_status = facts.latest_invoice_status
        agency_plan.latest_invoice_amount_due = facts.latest_invoice_amount_due
        if facts.status == agency_plan.status:
            await self.session.flush()
            return
        agency_plan.status = facts.status
        await self.session.flush()
        plan = await self.session.get(PlatformPlan, agency_plan.plan_id)
        assert plan is not None
        await self._announce(agency_plan, plan, contract.AgencyPlanStatusChanged)

    async def _announce(
        self,
        agency_plan: AgencyPlan,
        plan: PlatformPlan,
        event_type: type[contract.AgencyPlanStarted] | type[contract.AgencyPlanStatusChanged],
    ) -> None:
        assert agency_plan.created_at is not None
        await self.outbox.add(
            self.session,
            contract.AGENCY_PLANS,
            event_type(
                agency_id=agency_plan.agency_id,
                payload=contract.AgencyPlanSnapshot(
                    agency_plan_id=agency_plan.id,
                    agency_id=agency_plan.agency_id,
                    plan_id=plan.id,
                    plan_name=plan.name,
                    amount_cents=plan.amount_cents,
                    currency=plan.currency,
                    interval="year" if plan.interval == "year" else "month",
                    status=agency_plan.status,
                    stripe_account_id=agency_plan.stripe_account_id,
                    stripe_subscription_id=agency_plan.stripe_subscription_id,
                    stripe_payment_method_id=agency_plan.stripe_payment_method_id,
                    billing_cycle_anchor=agency_plan.billing_cycle_anchor,
                    latest_invoice_id=agency_plan.latest_invoice_id,
                    created_at=agency_plan.created_at,
                ),
            ),
        )


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
