"""The status mirror of client subscriptions: what Stripe reports of them
(``billing.subscriptions.v1`` on connected accounts), applied forward only.

Guarantees: an event older than the newest one applied changes nothing, one of the same
second that disagrees is settled by what Stripe answered after it (carried by the event;
asked of Stripe for older events), and ``canceled`` is final. A move to another product
waiting for the renewal takes effect here, when Stripe bills its price
(``migrations.renewed_on_scheduled_price``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from billing_contracts import subscriptions_subscriptions as contract
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.outbox import Publisher
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES
from subscriptions.errors import SubscriptionNotRecordedError
from subscriptions.service.announcements import announce
from subscriptions.service.migrations import renewed_on_scheduled_price
from subscriptions.service.ports import Repository, StripeGateway


@dataclass
class StatusMirror:
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway

    async def apply_stripe_subscription(self, snapshot: StripeSubscriptionSnapshot) -> None:
        """Mirror the status Stripe reports, forward only."""
        subscription = await self.repository.subscription_by_stripe_id(snapshot.subscription_id)
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
        await renewed_on_scheduled_price(self.repository, self.outbox, subscription, snapshot)
        if snapshot.latest_invoice_id and subscription.latest_invoice_id is None:
            subscription.latest_invoice_id = snapshot.latest_invoice_id  # the invoice mirror
            # brings its status and page (``invoice_mirror``)
        if status == subscription.status:
            await self.repository.flush()
            return
        previous = subscription.status
        subscription.status = status
        if status == "canceled" and subscription.canceled_at is None:
            subscription.canceled_at = datetime.now(UTC)
        await self.repository.flush()
        changed = contract.SubscriptionStatusChanged
        await announce(self.repository, self.outbox, subscription, changed, previous)
