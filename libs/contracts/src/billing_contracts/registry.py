"""Every topic the platform uses; the AsyncAPI document is generated from this list."""

from __future__ import annotations

from billing_contracts.billing_accounts import ACCOUNTS
from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.topics import Topic

ALL_TOPICS: tuple[Topic, ...] = (PRODUCTS, AGENCIES, ACCOUNTS)


def topic_named(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)
