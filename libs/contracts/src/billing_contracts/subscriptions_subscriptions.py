"""``subscriptions.subscriptions.v1`` — client subscriptions and their status.

Published by subscriptions; key = subscription id.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class SubscriptionSnapshot(Payload):
    """The subscription after the change."""

    subscription_id: str
    workspace_id: str
    product_id: str
    status: str
    """Stripe's: ``incomplete``, ``incomplete_expired``, ``trialing``, ``active``,
    ``past_due``, ``canceled``, ``unpaid`` or ``paused``."""
    previous_status: str | None = None
    cadence: Literal["monthly", "yearly"]
    amount_cents: int
    currency: str
    application_fee_percent: float
    billing_email: str | None = None
    stripe_account_id: str
    stripe_customer_id: str
    stripe_subscription_id: str
    latest_invoice_id: str | None = None
    created_at: datetime


class _SubscriptionEvent(Event):
    payload: SubscriptionSnapshot
    aggregate_field: ClassVar[str] = "subscription_id"


class SubscriptionStarted(_SubscriptionEvent):
    """An agency started a subscription; its first invoice is open for payment."""

    type: Literal["subscription.started"] = "subscription.started"


class SubscriptionStatusChanged(_SubscriptionEvent):
    """Stripe moved the subscription to another status (paid, past due, unpaid, ...)."""

    type: Literal["subscription.status_changed"] = "subscription.status_changed"


class SubscriptionCanceled(_SubscriptionEvent):
    """The agency canceled the subscription; its history stays."""

    type: Literal["subscription.canceled"] = "subscription.canceled"


class SubscriptionProductChanged(_SubscriptionEvent):
    """The subscription bills another product from now on: a migration took effect, at once
    (with Stripe's proration) or at its renewal. The payload carries the new product and
    amount."""

    type: Literal["subscription.product_changed"] = "subscription.product_changed"


SUBSCRIPTIONS = Topic(
    name="subscriptions.subscriptions.v1",
    description="Client subscriptions with their status as Stripe reports it. "
    "Key: subscription id.",
    events=(
        SubscriptionStarted,
        SubscriptionStatusChanged,
        SubscriptionCanceled,
        SubscriptionProductChanged,
    ),
)
