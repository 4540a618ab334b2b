"""Every query of the catalog service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from catalog.models import Agency, Product


@dataclass
class CatalogRepository:
    """The queries of one transaction (``session``), and the rows it adds and flushes."""

    session: AsyncSession

    async def agency(self, agency_id: str, *, for_update: bool = False) -> Agency | None:
        query = select(Agency).where(Agency.agency_id == agency_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def agency_by_account(self, account_id: str) -> Agency | None:
        query = select(Agency).where(Agency.stripe_account_id == account_id).with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def ensure_agency(self, agency_id: str) -> Agency:
        """The agency's profile, created empty on first need; locked for this transaction."""
        await self.session.execute(
            insert(Agency).values(agency_id=agency_id).on_conflict_do_nothing()
        )
        found = await self.agency(agency_id, for_update=True)
        assert found is not None
        return found

    async def product(
        self, agency_id: str, product_id: str, *, for_update: bool = False
    ) -> Product | None:
        query = select(Product).where(Product.agency_id == agency_id, Product.id == product_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def products(self, agency_id: str, status: str | None) -> Sequence[Product]:
        query = select(Product).where(Product.agency_id == agency_id)
        if status is not None:
            query = query.where(Product.status == status)
        query = query.order_by(col(Product.created_at).desc(), Product.id)
        return (await self.session.execute(query)).scalars().all()

    def add(self, product: Product) -> None:
        self.session.add(product)

    async def flush(self) -> None:
        await self.session.flush()
