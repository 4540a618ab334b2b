"""Every query of the subscriptions service."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.models import AgencyReplica, ProductReplica


async def upsert_product(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert or replace the replica row, unless it already holds a newer revision."""
    statement = insert(ProductReplica).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ProductReplica.product_id],
            set_={key: statement.excluded[key] for key in values if key != "product_id"},
            where=ProductReplica.revision < statement.excluded.revision,
        )
    )


async def product(session: AsyncSession, agency_id: str, product_id: str) -> ProductReplica | None:
    query = select(ProductReplica).where(
        ProductReplica.agency_id == agency_id, ProductReplica.product_id == product_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def upsert_agency(session: AsyncSession, values: dict[str, Any]) -> None:
    statement = insert(AgencyReplica).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[AgencyReplica.agency_id],
            set_={key: statement.excluded[key] for key in values if key != "agency_id"},
        )
    )


async def agency(session: AsyncSession, agency_id: str) -> AgencyReplica | None:
    return await session.get(AgencyReplica, agency_id)
