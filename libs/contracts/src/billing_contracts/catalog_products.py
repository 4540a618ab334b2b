"""``catalog.products.v1`` — an agency's products and their Stripe prices.

Published by catalog; key = product id.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic

Cadence = Literal["one_time", "monthly", "yearly"]
ProductStatus = Literal["active", "archived"]


class ProductSnapshot(Payload):
    """The product as it is after the change."""

    product_id: str
    name: str
    description: str | None = None
    cadence: Cadence
    amount_cents: int
    currency: str
    status: ProductStatus
    stripe_account_id: str
    stripe_product_id: str
    stripe_price_id: str
    created_at: datetime
    revision: int = 1
    """Grows by one with every change, so a replica can ignore stale snapshots."""


class _ProductEvent(Event):
    payload: ProductSnapshot
    aggregate_field: ClassVar[str] = "product_id"


class ProductCreated(_ProductEvent):
    type: Literal["product.created"] = "product.created"


class ProductUpdated(_ProductEvent):
    """Name or description changed (prices are immutable)."""

    type: Literal["product.updated"] = "product.updated"


class ProductArchived(_ProductEvent):
    type: Literal["product.archived"] = "product.archived"


PRODUCTS = Topic(
    name="catalog.products.v1",
    description=(
        "Products of every agency, with their Stripe product and price ids. Key: product id."
    ),
    events=(ProductCreated, ProductUpdated, ProductArchived),
)
