"""Client subscriptions: start (a monthly or yearly product on a workspace, with the
platform's 0.5 % fee fixed at creation), the status mirror of what Stripe reports, cancel
and list.

Guarantees: nothing starts unless the agency may bill (``connect_required``, then
``agency_suspended``); a subscription and its ``subscription.started`` commit together; the
status only moves forward — an event older than the newest one applied changes nothing, one
of the same second that disagrees is settled by what Stripe answered after it (carried by
the event; asked of Stripe for older events), and ``canceled`` is final.
Nothing here ever cancels on its own: a suspended agency's subscriptions keep charging until
the agency cancels them.

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
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.errors import NotFoundError
from billing_kit.outbox import Outbox
from billing_kit.pending_commands import PendingCommand, PendingCommands
from subscriptions import repository
from subscriptions.customers import Customers
from subscriptions.errors import (
    OneTimeProductError,
    ProductArchivedError,
    SubscriptionNotRecordedError,
)
from subscriptions.models import Subscription
from subscriptions.stripe_gateway import PLATFORM_FEE_PERCENT, SubscriptionsStripe
from subscriptions.workspaces import Workspaces

FINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
DEFAULT_DAYS_UNTIL_DUE = 30
"""Payment terms of a subscription when neither the request nor the workspace says."""


def subscription_snapshot(
    subscription: Subscription, previous_status: str | None = None
) -> contract.SubscriptionSnapshot:
    assert subscription.created_at is not None
    return contract.SubscriptionSnapshot(
        subscription_id=subscription.id,
        workspace_id=subscription.workspace_id,
        product_id=subscription.product_id,
        status=subscription.status,
        previous_status=previous_status,
        cadence=subscription.cadence,
        amount_cents=subscription.amount_cents,
        currency=subscription.currency,
        application_fee_percent=float(subscription.application_fee_percent),
        billing_email=subscription.billing_email,
        stripe_account_id=subscription.stripe_account_id,
        stripe_customer_id=subscription.stripe_customer_id,
        stripe_subscription_id=subscription.stripe_subscription_id,
        latest_invoice_id=subscription.latest_invoice_id,
        created_at=subscription.created_at,
    )


START_SUBSCRIPTION = "start_subscription"
"""Kind of the pending record of a client subscription."""


async def withdraw_subscription(
    stripe: SubscriptionsStripe, commands: PendingCommands, pending: PendingCommand
) -> None:
    """Cancel what a subscription's command made on Stripe and mark it failed; when Stripe
    cannot be reached for that, it is left ``undoing`` for the sweeper."""
    request = pending.request
    undo = stripe.withdraw_subscription(request["account_id"], request["customer_id"], pending.id)
    await commands.withdraw(pending.id, undo)


@dataclass
class Subscriptions:
    session: AsyncSession
    outbox: Outbox
    stripe: SubscriptionsStripe
    commands: PendingCommands | None = None

    def _commands(self) -> PendingCommands:
        assert self.commands is not None, "subscriptions start with a service built with commands"
        return self.commands

    @property
    def customers(self) -> Customers:
        return Customers(self.session, self.outbox, self.stripe, self.commands)

    @property
    def workspaces(self) -> Workspaces:
        return Workspaces(self.session, self.outbox, self.customers)

    async def start_subscription(
        self,
        agency_id: str,
        workspace_id: str,
        product_id: str,
        days_until_due: int | None = None,
    ) -> Subscription:
        workspace = await repository.workspace(self.session, workspace_id)
        if workspace is None or workspace.agency_id != agency_id:
            raise NotFoundError("No such workspace.")
        await self.customers.billing_account(agency_id)
        product = await repository.product(self.session, agency_id, product_id)
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
            self.session,
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
            made = await repository.subscription(self.session, agency_id, workspace_id, pending.id)
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
            status=facts.status,
            status_seen_at=facts.created,
            latest_invoice_id=facts.latest_invoice_id,
            latest_invoice_status=facts.latest_invoice_status,
            hosted_invoice_url=facts.hosted_invoice_url,
            latest_invoice_created=facts.latest_invoice_created,
            created_at=datetime.now(UTC),
        )
        self.session.add(subscription)
        await self.session.flush()
        await self._announce(subscription, contract.SubscriptionStarted)
        await self._commands().finish(
            self.session, pending, {"stripe_subscription_id": facts.subscription_id}
        )
        return subscription

    async def list_subscriptions(self, agency_id: str, workspace_id: str) -> Sequence[Subscription]:
        workspace = await repository.workspace(self.session, workspace_id)
        if workspace is None or workspace.agency_id != agency_id:
            raise NotFoundError("No such workspace.")
        return await repository.subscriptions(self.session, agency_id, workspace_id)

    async def cancel_subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str
    ) -> Subscription:
        """Cancel in Stripe now; the row and everything billed under it stay."""
        subscription = await repository.subscription(
            self.session, agency_id, workspace_id, subscription_id
        )
        if subscription is None:
            raise NotFoundError("No such subscription.")
        if subscription.status in FINAL_STATUSES:
            return subscription
        await self.stripe.cancel_subscription(
            subscription.stripe_account_id, subscription.stripe_subscription_id
        )
        previous = subscription.status
        subscription.status = "canceled"
        subscription.canceled_at = datetime.now(UTC)
        await self.session.flush()
        await self._announce(subscription, contract.SubscriptionCanceled, previous)
        return subscription

    async def apply_stripe_subscription(self, snapshot: StripeSubscriptionSnapshot) -> None:
        """Mirror the status Stripe reports, forward only."""
        subscription = await repository.subscription_by_stripe_id(
            self.session, snapshot.subscription_id
        )
        if subscription is None:
            if snapshot.metadata.get("subscription_id"):
                raise SubscriptionNotRecordedError(snapshot.subscription_id)
            return  # not one of ours
        if (
            subscription.status in FINAL_STATUSES
            or snapshot.stripe_created < subscription.status_seen_at
        ):
            return
        status = snapshot.status
        if snapshot.stripe_created == subscription.status_seen_at and status != subscription.status:
            # The event carries what Stripe answered after it; older events: ask Stripe.
            told = snapshot.stripe_state
            status = (
                told.status
                if told is not None
                else (
                    await self.stripe.retrieve_subscription(
                        subscription.stripe_account_id, subscription.stripe_subscription_id
                    )
                ).status
            )
        subscription.status_seen_at = snapshot.stripe_created
        if snapshot.latest_invoice_id and subscription.latest_invoice_id is None:
            subscription.latest_invoice_id = snapshot.latest_invoice_id  # the invoice mirror
            # brings its status and page (``invoice_mirror``)
        if status == subscription.status:
            await self.session.flush()
            return
        previous = subscription.status
        subscription.status = status
        if status == "canceled" and subscription.canceled_at is None:
            subscription.canceled_at = datetime.now(UTC)
        await self.session.flush()
        await self._announce(subscription, contract.SubscriptionStatusChanged, previous)

    async def _announce(
        self,
        subscription: Subscription,
        event_type: type[contract.SubscriptionStarted]
        | type[contract.SubscriptionStatusChanged]
        | type[contract.SubscriptionCanceled],
        previous_status: str | None = None,
    ) -> None:
        await self.outbox.add(
            self.session,
            contract.SUBSCRIPTIONS,
            event_type(
                agency_id=subscription.agency_id,
                workspace_id=subscription.workspace_id,
                payload=subscription_snapshot(subscription, previous_status),
            ),
        )
