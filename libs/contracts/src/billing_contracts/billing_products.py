"""``billing.products.v1`` — Stripe products and prices as Stripe reports them.

Published by webhook-ingest; key = Stripe product or price id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billing_contracts.billing_stripe import StripeObjectFacts
from billing_contracts.envelope import Event
from billing_contracts.topics import Topic


class StripeProductSnapshot(StripeObjectFacts):
    product_id: str
    name: str | None = None
    description: str | None = None
    active: bool = True
    default_price_id: str | None = None
    deleted: bool = False


class StripePriceSnapshot(StripeObjectFacts):
    price_id: str
    product_id: str | None = None
    active: bool = True
    currency: str | None = None
    unit_amount: int | None = None
    """Cents; null for prices without a fixed amount."""
    recurring_interval: str | None = None
    recurring_interval_count: int | None = None
    deleted: bool = False


class _ProductEvent(Event):
    payload: StripeProductSnapshot
    aggregate_field: ClassVar[str] = "product_id"


class _PriceEvent(Event):
    payload: StripePriceSnapshot
    aggregate_field: ClassVar[str] = "price_id"


class StripeProductCreated(_ProductEvent):
    """``product.created``."""

    type: Literal["product.created"] = "product.created"


class StripeProductUpdated(_ProductEvent):
    """``product.updated`` (archiving sets ``active`` false)."""

    type: Literal["product.updated"] = "product.updated"


class StripeProductDeleted(_ProductEvent):
    """``product.deleted``."""

    type: Literal["product.deleted"] = "product.deleted"


class StripePriceCreated(_PriceEvent):
    """``price.created``."""

    type: Literal["price.created"] = "price.created"


class StripePriceUpdated(_PriceEvent):
    """``price.updated``."""

    type: Literal["price.updated"] = "price.updated"


class StripePriceDeleted(_PriceEvent):
    """``price.deleted``."""

    type: Literal["price.deleted"] = "price.deleted"


STRIPE_PRODUCTS = Topic(
    name="billing.products.v1",
    description="Stripe products and prices, normalized from webhooks. Key: Stripe object id.",
    events=(
        StripeProductCreated,
        StripeProductUpdated,
        StripeProductDeleted,
        StripePriceCreated,
        StripePriceUpdated,
        StripePriceDeleted,
    ),
)
