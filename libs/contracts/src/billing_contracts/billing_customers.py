"""``billing.customers.v1`` — Stripe customers as Stripe reports them.

Published by webhook-ingest; key = Stripe customer id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billing_contracts.billing_stripe import StripeObjectFacts
from billing_contracts.envelope import Event
from billing_contracts.topics import Topic


class StripeCustomerSnapshot(StripeObjectFacts):
    customer_id: str
    email: str | None = None
    name: str | None = None
    delinquent: bool | None = None
    default_payment_method_id: str | None = None
    deleted: bool = False


class _CustomerEvent(Event):
    payload: StripeCustomerSnapshot
    aggregate_field: ClassVar[str] = "customer_id"


class StripeCustomerCreated(_CustomerEvent):
    """``customer.created``."""

    type: Literal["customer.created"] = "customer.created"


class StripeCustomerUpdated(_CustomerEvent):
    """``customer.updated``."""

    type: Literal["customer.updated"] = "customer.updated"


class StripeCustomerDeleted(_CustomerEvent):
    """``customer.deleted``."""

    type: Literal["customer.deleted"] = "customer.deleted"


STRIPE_CUSTOMERS = Topic(
    name="billing.customers.v1",
    description="Stripe customers, normalized from webhooks. Key: Stripe customer id.",
    events=(StripeCustomerCreated, StripeCustomerUpdated, StripeCustomerDeleted),
)
