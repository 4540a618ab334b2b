"""The move of client subscriptions to another product: one subscription, or every live one
on a product, from its next renewal without proration (``next_renewal``) or at once with
Stripe's proration on the next invoice (``now``). Its invoices so far stay as they were
billed; the fee stays the platform's; a subscription keeps its currency and its connected
account.

Each move commits its pending record first (``MIGRATE_SUBSCRIPTION``), whose id keys the
Stripe calls, so running it again changes nothing more and the sweeper finishes one a crash
interrupted. A move waiting for the renewal takes effect when the status mirror sees Stripe
bill its price (``renewed_on_scheduled_price``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing_contracts import subscriptions_subscriptions as contract
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.errors import NotFoundError, ValidationFailedError
from billing_kit.inbox import is_transient
from billing_kit.outbox import Publisher
from billing_kit.pending_commands import Commands, PendingCommand
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES
from subscriptions.errors import OneTimeProductError, ProductArchivedError
from subscriptions.models import ProductReplica, Subscription
from subscriptions.service.announcements import announce
from subscriptions.service.customers import Customers
from subscriptions.service.ports import Repository, StripeGateway
from subscriptions.stripe_gateway import CADENCE_INTERVALS, StripeSubscriptionFacts

MIGRATE_SUBSCRIPTION = "migrate_subscription"
"""Kind of the pending record of a subscription's move to another product."""


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


def _bill(
    subscription: Subscription, product_id: str, price_id: str, terms: dict[str, Any]
) -> None:
    subscription.product_id = product_id
    subscription.stripe_price_id = price_id
    subscription.cadence = terms["cadence"]
    subscription.amount_cents = terms["amount_cents"]


def _take_latest_invoice(subscription: Subscription, facts: StripeSubscriptionFacts) -> None:
    """A newer invoice than the one shown (a change of interval invoices at once)."""
    if facts.latest_invoice_id and facts.latest_invoice_created > (
        subscription.latest_invoice_created
    ):
        subscription.latest_invoice_id = facts.latest_invoice_id
        subscription.latest_invoice_status = facts.latest_invoice_status
        subscription.hosted_invoice_url = facts.hosted_invoice_url
        subscription.latest_invoice_created = facts.latest_invoice_created


async def renewed_on_scheduled_price(
    repository: Repository,
    outbox: Publisher,
    subscription: Subscription,
    snapshot: StripeSubscriptionSnapshot,
) -> None:
    """A migration waiting for the renewal took effect: Stripe now bills its price."""
    item = snapshot.items[0] if snapshot.items else None
    if item is None or not subscription.scheduled_price_id:
        return
    if item.price_id != subscription.scheduled_price_id:
        return
    product = await repository.product(
        subscription.agency_id, str(subscription.scheduled_product_id)
    )
    amount = (item.unit_amount or 0) * (item.quantity or 1)
    _bill(
        subscription,
        str(subscription.scheduled_product_id),
        item.price_id,
        {
            "cadence": product.cadence if product else subscription.cadence,
            "amount_cents": amount or (product.amount_cents if product else 0),
        },
    )
    subscription.scheduled_product_id = subscription.scheduled_price_id = None
    await repository.flush()
    await announce(repository, outbox, subscription, contract.SubscriptionProductChanged)


@dataclass
class Migrations:
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway
    customers: Customers
    commands: Commands

    async def migrate_subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str, product_id: str, when: str
    ) -> Subscription:
        """Move the subscription to another product: from its next renewal without proration
        (``next_renewal``), or at once with Stripe's proration on the next invoice (``now``).
        Its invoices so far stay as they were billed; the fee stays the platform's."""
        subscription = await self.repository.subscription(agency_id, workspace_id, subscription_id)
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
                await self.commands.settle(pending.id, "failed")
            raise  # else the outcome is unknown: the sweeper finishes it

    async def migrate_product(self, agency_id: str, product_id: str, to_product_id: str,
                              when: str) -> list[str]:  # fmt: skip
        """Record the move of every live subscription on ``product_id`` (one pending record
        each, worked right after the answer and by the sweeper after a crash); the ids of
        those records."""
        await self.customers.billing_account(agency_id)
        source = await self.repository.product(agency_id, product_id)
        if source is None:
            raise NotFoundError("No such product.")
        target = await self._migration_target(agency_id, to_product_id, source)
        moving = await self.repository.live_subscriptions_of_product(
            agency_id, product_id, SUBSCRIPTION_ENDED_STATUSES
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
        product = await self.repository.product(agency_id, product_id)
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
        return await self.commands.open(
            self.repository.session, MIGRATE_SUBSCRIPTION, request, agency_id=agency_id, keyed=keyed
        )

    async def make_migration(self, pending: PendingCommand) -> Subscription:
        """The migration's Stripe change (again, under its keys, changing nothing more when
        it was made), the subscription as it now bills and its record marked done, in this
        transaction."""
        request = pending.request
        subscription = await self.repository.subscription_by_id(request["subscription_id"])
        assert subscription is not None
        account, stripe_id = subscription.stripe_account_id, subscription.stripe_subscription_id
        product_id, price_id = request["product_id"], request["price_id"]
        if request["when"] == "now":
            facts = await self.stripe.migrate_now(account, stripe_id, price_id, pending.id)
            subscription.scheduled_product_id = subscription.scheduled_price_id = None
            subscription.current_period_end = facts.current_period_end
            _take_latest_invoice(subscription, facts)
            if product_id != subscription.product_id:
                _bill(subscription, product_id, price_id, request)
                await self.repository.flush()
                changed = contract.SubscriptionProductChanged
                await announce(self.repository, self.outbox, subscription, changed)
        else:
            await self.stripe.migrate_at_renewal(
                account, stripe_id, price_id, request["cadence"], pending.id
            )
            waiting = product_id != subscription.product_id
            subscription.scheduled_product_id = product_id if waiting else None
            subscription.scheduled_price_id = price_id if waiting else None
        await self.repository.flush()
        await self.commands.finish(self.repository.session, pending, {"product_id": product_id})
        return subscription
