"""Event contracts of the billing platform: envelope, topics and event models."""

from billing_contracts.catalog_products import (
    PRODUCTS,
    ProductArchived,
    ProductCreated,
    ProductSnapshot,
    ProductUpdated,
)
from billing_contracts.envelope import Event, Payload
from billing_contracts.registry import ALL_TOPICS, topic_named
from billing_contracts.topics import Topic

__all__ = [
    "ALL_TOPICS",
    "PRODUCTS",
    "Event",
    "Payload",
    "ProductArchived",
    "ProductCreated",
    "ProductSnapshot",
    "ProductUpdated",
    "Topic",
    "topic_named",
]
