"""Who sends and who receives each topic: the services' publications and subscriptions, as
the AsyncAPI document states them. A test holds each service's runtime to this map."""

from __future__ import annotations

from dataclasses import dataclass

from billing_contracts.billing_accounts import ACCOUNTS
from billing_contracts.billing_balances import STRIPE_BALANCES
from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS
from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.invoicing_collections import COLLECTIONS
from billing_contracts.registry import ALL_TOPICS
from billing_contracts.subscriptions_agency_plans import AGENCY_PLANS
from billing_contracts.subscriptions_workspaces import WORKSPACES
from billing_contracts.topics import Topic


@dataclass(frozen=True)
class Subscription:
    """A consumer of a service on ``topic``, read by the service's consumer group (one per
    service, named after it) under the name ``<service>.<consumer>``."""

    service: str
    consumer: str
    topic: Topic

    @property
    def group(self) -> str:
        """The consumer group that reads the topic for it: its service's."""
        return self.service

    @property
    def name(self) -> str:
        """What its inbox rows, dead letters (``x-consumer``) and metrics carry."""
        return f"{self.service}.{self.consumer}"


PUBLISHERS = {
    "catalog": "catalog",
    "billing": "webhook_ingest",
    "subscriptions": "subscriptions",
    "invoicing": "invoicing",
    "revenue": "revenue",
}
"""The service whose outbox publishes a topic, by the topic's domain (``<domain>.<entity>.vN``)."""

PUBLICATIONS: dict[str, tuple[Topic, ...]] = {
    service: tuple(t for t in ALL_TOPICS if PUBLISHERS[t.name.split(".", 1)[0]] == service)
    for service in dict.fromkeys(PUBLISHERS.values())
}
"""The topics each service's outbox publishes."""

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("catalog", "accounts", ACCOUNTS),
    Subscription("subscriptions", "products", PRODUCTS),
    Subscription("subscriptions", "agencies", AGENCIES),
    Subscription("subscriptions", "stripe-subscriptions", STRIPE_SUBSCRIPTIONS),
    Subscription("subscriptions", "stripe-invoices", STRIPE_INVOICES),
    Subscription("invoicing", "invoice-mirror", STRIPE_INVOICES),
    Subscription("invoicing", "invoice-payments", STRIPE_PAYMENTS),
    Subscription("invoicing", "subscription-mirror", STRIPE_SUBSCRIPTIONS),
    Subscription("invoicing", "agencies", AGENCIES),
    Subscription("invoicing", "products", PRODUCTS),
    Subscription("invoicing", "agency-plans", AGENCY_PLANS),
    Subscription("invoicing", "balances", STRIPE_BALANCES),
    Subscription("webhook_ingest", "agencies", AGENCIES),
    Subscription("revenue", "agencies", AGENCIES),
    Subscription("revenue", "ledger", STRIPE_PAYMENTS),
    Subscription("revenue", "invoices", STRIPE_INVOICES),
    Subscription("revenue", "subscriptions", STRIPE_SUBSCRIPTIONS),
    Subscription("revenue", "subscription-states", STRIPE_SUBSCRIPTIONS),
    Subscription("revenue", "payouts", STRIPE_BALANCES),
    Subscription("revenue", "workspaces", WORKSPACES),
    Subscription("revenue", "products", PRODUCTS),
    Subscription("revenue", "agency-plans", AGENCY_PLANS),
    Subscription("revenue", "collections", COLLECTIONS),
    Subscription("revenue", "balances", STRIPE_BALANCES),
)
