"""Every topic the platform uses; the AsyncAPI document is generated from these lists."""

from __future__ import annotations

from billing_contracts.billing_accounts import ACCOUNTS
from billing_contracts.billing_balances import STRIPE_BALANCES
from billing_contracts.billing_customers import STRIPE_CUSTOMERS
from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_contracts.billing_products import STRIPE_PRODUCTS
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS
from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.customer_requests import CUSTOMER_REQUESTS
from billing_contracts.invoicing_collections import COLLECTIONS
from billing_contracts.invoicing_invoices import INVOICES
from billing_contracts.revenue_ledger import LEDGER
from billing_contracts.subscriptions_agency_plans import AGENCY_PLANS
from billing_contracts.subscriptions_customers import CUSTOMERS
from billing_contracts.subscriptions_subscriptions import SUBSCRIPTIONS
from billing_contracts.subscriptions_workspaces import WORKSPACES
from billing_contracts.topics import RequestChannel, Topic

ALL_TOPICS: tuple[Topic, ...] = (
    PRODUCTS,
    AGENCIES,
    ACCOUNTS,
    STRIPE_PRODUCTS,
    STRIPE_CUSTOMERS,
    STRIPE_SUBSCRIPTIONS,
    STRIPE_INVOICES,
    STRIPE_PAYMENTS,
    STRIPE_BALANCES,
    WORKSPACES,
    CUSTOMERS,
    SUBSCRIPTIONS,
    AGENCY_PLANS,
    INVOICES,
    COLLECTIONS,
    LEDGER,
)

REQUEST_CHANNELS: tuple[RequestChannel, ...] = (CUSTOMER_REQUESTS,)
"""Request/reply exchanges between services (documented with their reply topics)."""


def topic_named(name: str) -> Topic:
    for topic in ALL_TOPICS:
        if topic.name == name:
            return topic
    raise KeyError(name)
