"""Who sends and who receives each topic: the services' publications and subscriptions, as
the AsyncAPI document states them. A test holds each service's runtime to this map."""

from __future__ import annotations

from dataclasses import dataclass

from billing_contracts.billing_accounts import ACCOUNTS
from billing_contracts.billing_balances import STRIPE_BALANCES
from billing_contracts.billing_customers import STRIPE_CUSTOMERS
from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_contracts.billing_products import STRIPE_PRODUCTS
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS
from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.topics import Topic


@dataclass(frozen=True)
class Subscription:
    """A consumer of a service: consumer group ``<service>.<consumer>`` on ``topic``."""

    service: str
    consumer: str
    topic: Topic

    @property
    def group(self) -> str:
        return f"{self.service}.{self.consumer}"


PUBLICATIONS: dict[str, tuple[Topic, ...]] = {
    "catalog": (PRODUCTS, AGENCIES),
    "webhook_ingest": (
        ACCOUNTS,
        STRIPE_PRODUCTS,
        STRIPE_CUSTOMERS,
        STRIPE_SUBSCRIPTIONS,
        STRIPE_INVOICES,
        STRIPE_PAYMENTS,
        STRIPE_BALANCES,
    ),
}
"""The topics each service's outbox publishes."""

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("catalog", "accounts", ACCOUNTS),
    Subscription("subscriptions", "products", PRODUCTS),
    Subscription("subscriptions", "agencies", AGENCIES),
    Subscription("webhook_ingest", "agencies", AGENCIES),
)
