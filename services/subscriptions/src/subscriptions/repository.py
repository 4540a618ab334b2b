"""Every query of the subscriptions service, on the session of the edge's transaction: the
service's rows are read, added and flushed here, and committed by the edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from subscriptions.models import (
    AgencyReplica,
    BillingCustomer,
    ProductReplica,
    Subscription,
    Workspace,
)


@dataclass
class SubscriptionsRepository:
    """The queries of one transaction of the edge (a request, a consumed event, a swept
    command)."""

    session: AsyncSession

    def add(self, row: SQLModel) -> None:
        """A new row, written with the transaction's next flush."""
        self.session.add(row)

    async def flush(self) -> None:
        """Write what the transaction changed so far (never a commit: the edge commits)."""
        await self.session.flush()

    async def upsert_product(self, values: dict[str, Any]) -> None:
        """Insert or replace the replica row, unless it already holds a newer revision."""
        statement = insert(ProductReplica).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[col(ProductReplica.product_id)],
                set_={key: statement.excluded[key] for key in values if key != "product_id"},
                where=col(ProductReplica.revision) < statement.excluded.revision,
            )
        )

    async def product(self, agency_id: str, product_id: str) -> ProductReplica | None:
        query = select(ProductReplica).where(
            col(ProductReplica.agency_id) == agency_id, col(ProductReplica.product_id) == product_id
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def upsert_agency(self, values: dict[str, Any]) -> None:
        statement = insert(AgencyReplica).values(**values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[col(AgencyReplica.agency_id)],
                set_={key: statement.excluded[key] for key in values if key != "agency_id"},
            )
        )

    async def agency(self, agency_id: str, *, for_update: bool = False) -> AgencyReplica | None:
        return await self.session.get(AgencyReplica, agency_id, with_for_update=for_update)

    async def register_workspace(self, workspace_id: str, agency_id: str, name: str) -> bool:
        """Insert an empty workspace row unless the id is taken; True when it was inserted."""
        inserted = await self.session.execute(
            insert(Workspace)
            .values(id=workspace_id, agency_id=agency_id, name=name, client_members=[], revision=0)
            .on_conflict_do_nothing()
            .returning(col(Workspace.id))
        )
        return inserted.first() is not None

    async def workspace(self, workspace_id: str, *, for_update: bool = False) -> Workspace | None:
        """The workspace whatever its agency (callers check the tenant); ``for_update`` locks
        it, which is what serializes the first creation of its Stripe customer."""
        query = select(Workspace).where(col(Workspace.id) == workspace_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(query)).scalar_one_or_none()

    async def billing_customer(
        self, workspace_id: str, stripe_account_id: str
    ) -> BillingCustomer | None:
        return await self.session.get(BillingCustomer, (workspace_id, stripe_account_id))

    async def billing_customers(self, workspace_id: str) -> Sequence[BillingCustomer]:
        query = select(BillingCustomer).where(col(BillingCustomer.workspace_id) == workspace_id)
        return (await self.session.execute(query)).scalars().all()

    async def subscription(
        self, agency_id: str, workspace_id: str, subscription_id: str
    ) -> Subscription | None:
        query = (
            select(Subscription)
            .where(
                col(Subscription.agency_id) == agency_id,
                col(Subscription.workspace_id) == workspace_id,
                col(Subscription.id) == subscription_id,
            )
            .with_for_update()
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def subscription_by_stripe_id(self, stripe_subscription_id: str) -> Subscription | None:
        query = (
            select(Subscription)
            .where(col(Subscription.stripe_subscription_id) == stripe_subscription_id)
            .with_for_update()
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def subscriptions(self, agency_id: str, workspace_id: str) -> Sequence[Subscription]:
        query = (
            select(Subscription)
            .where(
                col(Subscription.agency_id) == agency_id,
                col(Subscription.workspace_id) == workspace_id,
            )
            .order_by(col(Subscription.created_at).desc(), col(Subscription.id))
        )
        return (await self.session.execute(query)).scalars().all()

    async def live_subscriptions_of_product(
        self, agency_id: str, product_id: str, ended: frozenset[str]
    ) -> Sequence[Subscription]:
        """The agency's subscriptions that bill ``product_id`` and have not ended."""
        query = (
            select(Subscription)
            .where(
                col(Subscription.agency_id) == agency_id,
                col(Subscription.product_id) == product_id,
                col(Subscription.status).not_in(ended),
            )
            .order_by(col(Subscription.created_at), col(Subscription.id))
        )
        return (await self.session.execute(query)).scalars().all()

    async def subscription_by_id(self, subscription_id: str) -> Subscription | None:
        """The subscription, locked for this transaction."""
        return await self.session.get(Subscription, subscription_id, with_for_update=True)

    async def product_names(self, product_ids: Sequence[str]) -> dict[str, str]:
        """Each product's name as catalog last announced it."""
        if not product_ids:
            return {}
        query = select(col(ProductReplica.product_id), col(ProductReplica.name)).where(
            col(ProductReplica.product_id).in_(set(product_ids))
        )
        return {str(pid): str(name) for pid, name in (await self.session.execute(query)).all()}

    async def autopay_waiting(self, limit: int = 50) -> Sequence[Subscription]:
        """Subscriptions with a paid invoice whose payment method is still to be saved."""
        query = (
            select(Subscription)
            .where(col(Subscription.autopay_invoice_id).is_not(None))
            .order_by(col(Subscription.id))
            .limit(limit)
        )
        return (await self.session.execute(query)).scalars().all()

    async def settle_autopay(
        self, subscription_id: str, invoice_id: str, payment_method_id: str | None
    ) -> None:
        """The switch asked by ``invoice_id`` is over: renewals charge ``payment_method_id``, or
        (None) stay on invoice."""
        found = await self.session.get(Subscription, subscription_id, with_for_update=True)
        if found is None or found.autopay_invoice_id != invoice_id:
            return
        found.autopay_invoice_id = None
        if payment_method_id is not None:
            found.collection_method = "charge_automatically"
            found.default_payment_method_id = payment_method_id
            found.days_until_due = None
        await self.session.flush()
