"""Client subscriptions: start (a monthly or yearly product on a workspace, with the
platform's 0.5 % fee fixed at creation), cancel and list.

Guarantees: nothing starts unless the agency may bill (``connect_required``, then
``agency_suspended``); a subscription and its ``subscription.started`` commit together.
Nothing here ever cancels on its own: a suspended agency's subscriptions keep charging until
the agency cancels them.

The service room, split by responsibility: this module, and beside it ``customers`` (the one
Stripe customer of each workspace), ``workspaces``, ``migrations`` (the move to another
product), ``status_mirror`` (what Stripe reports of a subscription, forward only),
``invoice_mirror`` (its latest invoice, and autopay), ``announcements`` (its events),
``commands`` (the pending records' sweeper) and ``ports`` (what the room needs of the
repository, Stripe, the outbox and the pending records). ``Subscriptions`` reaches the others
for one transaction of the edge; ``build`` wires the real ports, the unit tests fakes.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction. The one
exception is a command's pending record, committed on its own before Stripe is called
(``billing_kit.pending_commands``), so a crash cannot lose what Stripe made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import subscriptions_subscriptions as contract
from billing_kit.errors import NotFoundError
from billing_kit.money import PLATFORM_FEE_PERCENT
from billing_kit.outbox import Publisher
from billing_kit.pending_commands import Commands, PendingCommand, PendingCommands
from billing_kit.runtime import Runtime
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES
from subscriptions.errors import OneTimeProductError, ProductArchivedError
from subscriptions.models import Subscription, pending_commands
from subscriptions.repository import SubscriptionsRepository
from subscriptions.service.announcements import announce
from subscriptions.service.customers import Customers
from subscriptions.service.migrations import Migrations
from subscriptions.service.ports import Repository, StripeGateway
from subscriptions.service.status_mirror import StatusMirror
from subscriptions.service.workspaces import Workspaces
from subscriptions.stripe_gateway import SubscriptionsStripe

DEFAULT_DAYS_UNTIL_DUE = 30
"""Payment terms of a subscription when neither the request nor the workspace says."""


START_SUBSCRIPTION = "start_subscription"
"""Kind of the pending record of a client subscription."""


async def withdraw_subscription(
    stripe: StripeGateway, commands: Commands, pending: PendingCommand
) -> None:
    """Cancel what a subscription's command made on Stripe and mark it failed; when Stripe
    cannot be reached for that, it is left ``undoing`` for the sweeper."""
    request = pending.request
    undo = stripe.withdraw_subscription(request["account_id"], request["customer_id"], pending.id)
    await commands.withdraw(pending.id, undo)


def subscriptions_commands(runtime: Runtime) -> PendingCommands:
    return runtime.pending_commands(pending_commands)


@dataclass
class Subscriptions:
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway
    commands: Commands | None = None

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> Subscriptions:
        """The service for one transaction of the edge (a request, a consumed event, a
        swept command)."""
        stripe = SubscriptionsStripe(runtime.stripe)
        repository = SubscriptionsRepository(session)
        return cls(repository, runtime.outbox, stripe, subscriptions_commands(runtime))

    def _commands(self) -> Commands:
        assert self.commands is not None, "subscriptions start with a service built with commands"
        return self.commands

    @property
    def customers(self) -> Customers:
        return Customers(self.repository, self.outbox, self.stripe, self.commands)

    @property
    def workspaces(self) -> Workspaces:
        return Workspaces(self.repository, self.outbox, self.customers)

    @property
    def migrations(self) -> Migrations:
        commands = self._commands()
        return Migrations(self.repository, self.outbox, self.stripe, self.customers, commands)

    @property
    def status_mirror(self) -> StatusMirror:
        return StatusMirror(self.repository, self.outbox, self.stripe)

    async def start_subscription(
        self,
        agency_id: str,
        workspace_id: str,
        product_id: str,
        days_until_due: int | None = None,
    ) -> Subscription:
        workspace = await self.repository.workspace(workspace_id)
        if workspace is None or workspace.agency_id != agency_id:
            raise NotFoundError("No such workspace.")
        await self.customers.billing_account(agency_id)
        product = await self.repository.product(agency_id, product_id)
        if product is None:
            raise NotFoundError("No such product.")
        if product.cadence not in ("monthly", "yearly"):
            raise OneTimeProductError()
        if product.status != "active":
            raise ProductArchivedError()
        workspace, customer = await self.customers.ensure_customer(agency_id, workspace_id)
        terms = days_until_due or workspace.default_days_until_due or DEFAULT_DAYS_UNTIL_DUE
        commands = self._commands()
        pending = await commands.open(
            self.repository.session,
            START_SUBSCRIPTION,
            {
                "workspace_id": workspace_id,
                "product_id": product_id,
                "price_id": product.stripe_price_id,
                "cadence": product.cadence,
                "amount_cents": product.amount_cents,
                "currency": product.currency,
                "account_id": customer.stripe_account_id,
                "customer_id": customer.stripe_customer_id,
                "billing_email": customer.email,
                "days_until_due": terms,
            },
            agency_id=agency_id,
        )
        if pending.status == "done":
            made = await self.repository.subscription(agency_id, workspace_id, pending.id)
            if made is not None:
                return made
        try:
            return await self.make_subscription(pending)
        except Exception:
            await withdraw_subscription(self.stripe, commands, pending)
            raise

    async def make_subscription(self, pending: PendingCommand) -> Subscription:
        """The command's Stripe subscription (again, under its key), its row and
        ``subscription.started``, with its record marked done, in this transaction."""
        request, agency_id = pending.request, str(pending.agency_id)
        workspace_id, product_id = request["workspace_id"], request["product_id"]
        terms = int(request.get("days_until_due") or DEFAULT_DAYS_UNTIL_DUE)
        facts = await self.stripe.create_subscription(
            account_id=request["account_id"],
            customer_id=request["customer_id"],
            price_id=request["price_id"],
            days_until_due=terms,
            metadata={
                "agency_id": agency_id,
                "workspace_id": workspace_id,
                "subscription_id": pending.id,
                "product_id": product_id,
            },
        )
        subscription = Subscription(
            id=pending.id,
            agency_id=agency_id,
            workspace_id=workspace_id,
            product_id=product_id,
            cadence=request["cadence"],
            amount_cents=request["amount_cents"],
            currency=request["currency"],
            application_fee_percent=PLATFORM_FEE_PERCENT,
            billing_email=request["billing_email"],
            days_until_due=terms,
            collection_method="send_invoice",
            stripe_account_id=request["account_id"],
            stripe_customer_id=request["customer_id"],
            stripe_subscription_id=facts.subscription_id,
            stripe_price_id=request["price_id"],
            current_period_end=facts.current_period_end,
            status=facts.status,
            status_seen_at=facts.created,
            latest_invoice_id=facts.latest_invoice_id,
            latest_invoice_status=facts.latest_invoice_status,
            hosted_invoice_url=facts.hosted_invoice_url,
            latest_invoice_created=facts.latest_invoice_created,
            created_at=datetime.now(UTC),
        )
        self.repository.add(subscription)
        await self.repository.flush()
        await announce(self.repository, self.outbox, subscription, contract.SubscriptionStarted)
        await self._commands().finish(
            self.repository.session, pending, {"stripe_subscription_id": facts.subscription_id}
        )
        return subscription

    async def product_names(self, product_ids: Sequence[str]) -> dict[str, str]:
        return await self.repository.product_names(product_ids)

    def work_soon(self, command_ids: Sequence[str]) -> None:
        """Have the sweeper work these records right after the answer."""
        self._commands().work_soon(command_ids)

    async def list_subscriptions(self, agency_id: str, workspace_id: str) -> Sequence[Subscription]:
        workspace = await self.repository.workspace(workspace_id)
        if workspace is None or workspace.agency_id != agency_id:
            raise NotFoundError("No such workspace.")
        return await self.repository.subscriptions(agency_id, workspace_id)

    async def cancel_subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str
    ) -> Subscription:
        """Cancel in Stripe now; the row and everything billed under it stay."""
        subscription = await self.repository.subscription(agency_id, workspace_id, subscription_id)
        if subscription is None:
            raise NotFoundError("No such subscription.")
        if subscription.status in SUBSCRIPTION_ENDED_STATUSES:
            return subscription
        await self.stripe.cancel_subscription(
            subscription.stripe_account_id, subscription.stripe_subscription_id
        )
        previous = subscription.status
        subscription.status = "canceled"
        subscription.canceled_at = datetime.now(UTC)
        await self.repository.flush()
        canceled = contract.SubscriptionCanceled
        await announce(self.repository, self.outbox, subscription, canceled, previous)
        return subscription
