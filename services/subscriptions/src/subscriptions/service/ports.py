"""The ports of the service room: what its classes need of the repository, of Stripe, of the
outbox and of the pending records, as protocols. ``Subscriptions.build`` wires the real ones
(``SubscriptionsRepository``, ``SubscriptionsStripe``, the kit's ``Outbox`` and
``PendingCommands``); the unit tests wire fakes that keep their state in memory.

The session is the edge's transaction: the repository holds it, and the outbox and the pending
records write in it (an event and the change it announces commit together)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from subscriptions.models import (
    AgencyReplica,
    BillingCustomer,
    ProductReplica,
    Subscription,
    Workspace,
)
from subscriptions.stripe_gateway import StripeSubscriptionFacts


class Repository(Protocol):
    """The queries and rows of one transaction (``subscriptions.repository``)."""

    @property
    def session(self) -> AsyncSession:
        """The edge's transaction, where the outbox and the pending records write too."""
        ...

    def add(self, row: SQLModel) -> None: ...

    async def flush(self) -> None: ...

    async def product(self, agency_id: str, product_id: str) -> ProductReplica | None: ...

    async def agency(self, agency_id: str, *, for_update: bool = False) -> AgencyReplica | None: ...

    async def register_workspace(self, workspace_id: str, agency_id: str, name: str) -> bool: ...

    async def workspace(
        self, workspace_id: str, *, for_update: bool = False
    ) -> Workspace | None: ...

    async def billing_customer(
        self, workspace_id: str, stripe_account_id: str
    ) -> BillingCustomer | None: ...

    async def billing_customers(self, workspace_id: str) -> Sequence[BillingCustomer]: ...

    async def subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str
    ) -> Subscription | None: ...

    async def subscription_by_stripe_id(
        self, stripe_subscription_id: str
    ) -> Subscription | None: ...

    async def subscription_by_id(self, subscription_id: str) -> Subscription | None: ...

    async def subscriptions(self, agency_id: str, workspace_id: str) -> Sequence[Subscription]: ...

    async def live_subscriptions_of_product(
        self, agency_id: str, product_id: str, ended: frozenset[str]
    ) -> Sequence[Subscription]: ...

    async def product_names(self, product_ids: Sequence[str]) -> dict[str, str]: ...


class StripeGateway(Protocol):
    """subscriptions' calls to Stripe (``subscriptions.stripe_gateway``)."""

    async def create_customer(
        self, *, account_id: str, agency_id: str, workspace_id: str, name: str, email: str | None
    ) -> str: ...

    async def update_customer_email(
        self, account_id: str, customer_id: str, email: str | None
    ) -> None: ...

    async def create_subscription(
        self,
        *,
        account_id: str,
        customer_id: str,
        price_id: str,
        days_until_due: int,
        metadata: dict[str, str],
    ) -> StripeSubscriptionFacts: ...

    async def retrieve_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts: ...

    async def cancel_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts: ...

    async def withdraw_subscription(
        self, account_id: str, customer_id: str, subscription_id: str
    ) -> None: ...

    async def migrate_now(
        self, account_id: str, subscription_id: str, price_id: str, migration_id: str
    ) -> StripeSubscriptionFacts: ...

    async def migrate_at_renewal(
        self,
        account_id: str,
        subscription_id: str,
        price_id: str,
        cadence: str,
        migration_id: str,
    ) -> StripeSubscriptionFacts: ...
