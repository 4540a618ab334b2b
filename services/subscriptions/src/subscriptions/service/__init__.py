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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import subscriptions_subscriptions as contract
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.errors import NotFoundError, ValidationFailedError
from billing_kit.inbox import is_transient
from billing_kit.money import PLATFORM_FEE_PERCENT
from billing_kit.outbox import Outbox
from billing_kit.pending_commands import PendingCommand, PendingCommands
from billing_kit.runtime import Runtime
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES
from subscriptions import repository
from subscriptions.errors import (
    OneTimeProductError,
    ProductArchivedError,
    SubscriptionNotRecordedError,
)
from subscriptions.models import ProductReplica, Subscription, pending_commands
from subscriptions.service.customers import Customers
from subscriptions.service.workspaces import Workspaces
from subscriptions.stripe_gateway import (
    CADENCE_INTERVALS,
    StripeSubscriptionFacts,
    SubscriptionsStripe,
)

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
MIGRATE_SUBSCRIPTION = "migrate_subscription"
"""Kind of the pending record of a subscription's move to another product."""


async def withdraw_subscription(
    stripe: SubscriptionsStripe, commands: PendingCommands, pending: PendingCommand
) -> None:
    """Cancel what a subscription's command made on Stripe and mark it failed; when Stripe
    cannot be reached for that, it is left ``undoing`` for the sweeper."""
    request = pending.request
    undo = stripe.withdraw_subscription(request["account_id"], request["customer_id"], pending.id)
    await commands.withdraw(pending.id, undo)


def _may_move(moving: Subscription | ProductReplica, product: ProductReplica) -> None:
    """A subscription keeps its currency and its connected account when it moves."""
    if product.currency != moving.currency:
        raise ValidationFailedError(
            f"This subscription bills in {moving.currency.upper()} and the product "
            f"in {product.currency.upper()}: a subscription keeps its currency."
        )
    if product.stripe_account_id != moving.stripe_account_id:
        raise ValidationFailedError(
            "This subscription bills on an earlier Stripe account of the agency; start a "
            "new one on the product instead."
        )


def subscriptions_commands(runtime: Runtime) -> PendingCommands:
    return runtime.pending_commands(pending_commands)


@dataclass
class Subscriptions:
    session: AsyncSession
    outbox: Outbox
    stripe: SubscriptionsStripe
    commands: PendingCommands | None = None

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> Subscriptions:
        """The service for one transaction of the edge (a request, a consumed event, a
        swept command)."""
        stripe = SubscriptionsStripe(runtime.stripe)
        return cls(session, runtime.outbox, stripe, subscriptions_commands(runtime))

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
        self.session.add(subscription)
        await self.session.flush()
        await self._announce(subscription, contract.SubscriptionStarted)
        await self._commands().finish(
            self.session, pending, {"stripe_subscription_id": facts.subscription_id}
        )
        return subscription

    async def product_names(self, product_ids: Sequence[str]) -> dict[str, str]:
        return await repository.product_names(self.session, product_ids)

    def work_soon(self, command_ids: Sequence[str]) -> None:
        """Have the sweeper work these records right after the answer."""
        self._commands().work_soon(command_ids)

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
        if subscription.status in SUBSCRIPTION_ENDED_STATUSES:
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

    async def migrate_subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str, product_id: str, when: str
    ) -> Subscription:
        """Move the subscription to another product: from its next renewal without proration
        (``next_renewal``), or at once with Stripe's proration on the next invoice (``now``).
        Its invoices so far stay as they were billed; the fee stays the platform's."""
        subscription = await repository.subscription(
            self.session, agency_id, workspace_id, subscription_id
        )
        if subscription is None:
            raise NotFoundError("No such subscription.")
        await self.customers.billing_account(agency_id)
        if subscription.status in SUBSCRIPTION_ENDED_STATUSES:
            raise ValidationFailedError(
                "This subscription has ended; start a new one on the product instead."
            )
        product = await self._migration_target(agency_id, product_id, subscription)
        pending = await self._open_migration(agency_id, subscription, product, when)
        if pending.status == "done":
            return subscription
        try:
            return await self.make_migration(pending)
        except Exception as exc:
            if not is_transient(exc):  # refused: Stripe changed nothing
                await self._commands().settle(pending.id, "failed")
            raise  # else the outcome is unknown: the sweeper finishes it

    async def migrate_product(self, agency_id: str, product_id: str, to_product_id: str,
                              when: str) -> list[str]:  # fmt: skip
        """Record the move of every live subscription on ``product_id`` (one pending record
        each, worked right after the answer and by the sweeper after a crash); the ids of
        those records."""
        await self.customers.billing_account(agency_id)
        source = await repository.product(self.session, agency_id, product_id)
        if source is None:
            raise NotFoundError("No such product.")
        target = await self._migration_target(agency_id, to_product_id, source)
        moving = await repository.live_subscriptions_of_product(
            self.session, agency_id, product_id, SUBSCRIPTION_ENDED_STATUSES
        )
        records = []
        for subscription in moving:
            _may_move(subscription, target)
            pending = await self._open_migration(agency_id, subscription, target, when,
                                                 keyed=False)  # fmt: skip
            records.append(pending.id)
        return records

    async def _migration_target(
        self, agency_id: str, product_id: str, moving: Subscription | ProductReplica
    ) -> ProductReplica:
        """The product a subscription (or a product's subscriptions) may move to."""
        product = await repository.product(self.session, agency_id, product_id)
        if product is None:
            raise NotFoundError("No such product.")
        if product.cadence not in CADENCE_INTERVALS:
            raise OneTimeProductError()
        if product.status != "active":
            raise ProductArchivedError()
        _may_move(moving, product)
        return product

    async def _open_migration(
        self,
        agency_id: str,
        subscription: Subscription,
        product: ProductReplica,
        when: str,
        *,
        keyed: bool = True,
    ) -> PendingCommand:
        request = {
            "subscription_id": subscription.id,
            "product_id": product.product_id,
            "when": when,
            "price_id": product.stripe_price_id,
            "cadence": product.cadence,
            "amount_cents": product.amount_cents,
        }
        return await self._commands().open(
            self.session, MIGRATE_SUBSCRIPTION, request, agency_id=agency_id, keyed=keyed
        )

    async def make_migration(self, pending: PendingCommand) -> Subscription:
        """The migration's Stripe change (again, under its keys, changing nothing more when
        it was made), the subscription as it now bills and its record marked done, in this
        transaction."""
        request = pending.request
        subscription = await repository.subscription_by_id(self.session, request["subscription_id"])
        assert subscription is not None
        account, stripe_id = subscription.stripe_account_id, subscription.stripe_subscription_id
        product_id, price_id = request["product_id"], request["price_id"]
        if request["when"] == "now":
            facts = await self.stripe.migrate_now(account, stripe_id, price_id, pending.id)
            subscription.scheduled_product_id = subscription.scheduled_price_id = None
            subscription.current_period_end = facts.current_period_end
            self._take_latest_invoice(subscription, facts)
            if product_id != subscription.product_id:
                self._bill(subscription, product_id, price_id, request)
                await self.session.flush()
                await self._announce(subscription, contract.SubscriptionProductChanged)
        else:
            await self.stripe.migrate_at_renewal(
                account, stripe_id, price_id, request["cadence"], pending.id
            )
            waiting = product_id != subscription.product_id
            subscription.scheduled_product_id = product_id if waiting else None
            subscription.scheduled_price_id = price_id if waiting else None
        await self.session.flush()
        await self._commands().finish(self.session, pending, {"product_id": product_id})
        return subscription

    @staticmethod
    def _bill(
        subscription: Subscription, product_id: str, price_id: str, terms: dict[str, Any]
    ) -> None:
        subscription.product_id = product_id
        subscription.stripe_price_id = price_id
        subscription.cadence = terms["cadence"]
        subscription.amount_cents = terms["amount_cents"]

    @staticmethod
    def _take_latest_invoice(subscription: Subscription, facts: StripeSubscriptionFacts) -> None:
        """A newer invoice than the one shown (a change of interval invoices at once)."""
        if facts.latest_invoice_id and facts.latest_invoice_created > (
            subscription.latest_invoice_created
        ):
            subscription.latest_invoice_id = facts.latest_invoice_id
            subscription.latest_invoice_status = facts.latest_invoice_status
            subscription.hosted_invoice_url = facts.hosted_invoice_url
            subscription.latest_invoice_created = facts.latest_invoice_created

    async def _renewed_on_scheduled_price(
        self, subscription: Subscription, snapshot: StripeSubscriptionSnapshot
    ) -> None:
        """A migration waiting for the renewal took effect: Stripe now bills its price."""
        item = snapshot.items[0] if snapshot.items else None
        if item is None or not subscription.scheduled_price_id:
            return
        if item.price_id != subscription.scheduled_price_id:
            return
        product = await repository.product(
            self.session, subscription.agency_id, str(subscription.scheduled_product_id)
        )
        amount = (item.unit_amount or 0) * (item.quantity or 1)
        self._bill(
            subscription,
            str(subscription.scheduled_product_id),
            item.price_id,
            {
                "cadence": product.cadence if product else subscription.cadence,
                "amount_cents": amount or (product.amount_cents if product else 0),
            },
        )
        subscription.scheduled_product_id = subscription.scheduled_price_id = None
        await self.session.flush()
        await self._announce(subscription, contract.SubscriptionProductChanged)

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
            subscription.status in SUBSCRIPTION_ENDED_STATUSES
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
        subscription.current_period_end = (
            snapshot.current_period_end or subscription.current_period_end
        )
        await self._renewed_on_scheduled_price(subscription, snapshot)
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
        | type[contract.SubscriptionCanceled]
        | type[contract.SubscriptionProductChanged],
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
