"""What a change of a client subscription announces: its snapshot, written to the outbox as
an event of ``subscriptions.subscriptions.v1`` in the transaction that made the change."""

from __future__ import annotations

from billing_contracts import subscriptions_subscriptions as contract
from billing_kit.outbox import Publisher
from subscriptions.models import Subscription
from subscriptions.service.ports import Repository

SubscriptionEvent = (
    type[contract.SubscriptionStarted]
    | type[contract.SubscriptionStatusChanged]
    | type[contract.SubscriptionCanceled]
    | type[contract.SubscriptionProductChanged]
)
"""The events of a client subscription."""


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


async def announce(
    repository: Repository,
    outbox: Publisher,
    subscription: Subscription,
    event_type: SubscriptionEvent,
    previous_status: str | None = None,
) -> None:
    await outbox.add(
        repository.session,
        contract.SUBSCRIPTIONS,
        event_type(
            agency_id=subscription.agency_id,
            workspace_id=subscription.workspace_id,
            payload=subscription_snapshot(subscription, previous_status),
        ),
    )
