"""``billing.subscriptions.v1`` — Stripe subscriptions and their status.

Published by webhook-ingest; key = Stripe subscription id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from billing_contracts.billing_stripe import StripeObjectFacts
from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class StripeSubscriptionItem(Payload):
    item_id: str
    price_id: str | None = None
    product_id: str | None = None
    quantity: int | None = None
    unit_amount: int | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None
    interval: str | None = None
    """The price's ``recurring.interval`` (``day``, ``week``, ``month``, ``year``)."""
    interval_count: int | None = None
    """How many ``interval`` one period lasts (``recurring.interval_count``)."""


class StripeSubscriptionState(Payload):
    """The subscription as Stripe answered webhook-ingest after the event happened (so at
    least as new as the event): what settles two states told within the same second, and
    the latest invoice an agency's plan shows."""

    status: str
    latest_invoice_id: str | None = None
    latest_invoice_status: str | None = None
    latest_invoice_amount_due: int | None = None


class StripeSubscriptionSnapshot(StripeObjectFacts):
    subscription_id: str
    customer_id: str | None = None
    status: str
    """``incomplete|incomplete_expired|trialing|active|past_due|canceled|unpaid|paused``."""
    currency: str | None = None
    application_fee_percent: float | None = None
    collection_method: str | None = None
    latest_invoice_id: str | None = None
    default_payment_method_id: str | None = None
    current_period_start: int | None = None
    current_period_end: int | None = None
    start_date: int | None = None
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    canceled_at: int | None = None
    ended_at: int | None = None
    cancellation_reason: str | None = None
    items: list[StripeSubscriptionItem] = Field(default_factory=list)
    previous_status: str | None = None
    """On ``updated``: the status before the change, when the status changed."""
    stripe_state: StripeSubscriptionState | None = None
    """Read from Stripe by webhook-ingest before publishing; null on events published before
    it was carried (and when Stripe no longer has the subscription)."""


class _SubscriptionEvent(Event):
    payload: StripeSubscriptionSnapshot
    aggregate_field: ClassVar[str] = "subscription_id"


class StripeSubscriptionCreated(_SubscriptionEvent):
    """``customer.subscription.created``."""

    type: Literal["customer.subscription.created"] = "customer.subscription.created"


class StripeSubscriptionUpdated(_SubscriptionEvent):
    """``customer.subscription.updated`` (status changes such as ``past_due`` included)."""

    type: Literal["customer.subscription.updated"] = "customer.subscription.updated"


class StripeSubscriptionDeleted(_SubscriptionEvent):
    """``customer.subscription.deleted``: the subscription ended (``canceled``)."""

    type: Literal["customer.subscription.deleted"] = "customer.subscription.deleted"


class StripeSubscriptionPaused(_SubscriptionEvent):
    """``customer.subscription.paused``."""

    type: Literal["customer.subscription.paused"] = "customer.subscription.paused"


class StripeSubscriptionResumed(_SubscriptionEvent):
    """``customer.subscription.resumed``."""

    type: Literal["customer.subscription.resumed"] = "customer.subscription.resumed"


STRIPE_SUBSCRIPTIONS = Topic(
    name="billing.subscriptions.v1",
    description="Stripe subscriptions, normalized from webhooks. Key: Stripe subscription id.",
    events=(
        StripeSubscriptionCreated,
        StripeSubscriptionUpdated,
        StripeSubscriptionDeleted,
        StripeSubscriptionPaused,
        StripeSubscriptionResumed,
    ),
)
