"""Every query of the SaaS fees' plans."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from subscriptions.saas_fees.models import AgencyPlan, PlatformPlan


async def platform_plans(session: AsyncSession) -> Sequence[PlatformPlan]:
    query = select(PlatformPlan).order_by(col(PlatformPlan.created_at), col(PlatformPlan.id))
    return (await session.execute(query)).scalars().all()


async def agency_plan(session: AsyncSession, agency_id: str) -> AgencyPlan | None:
    query = select(AgencyPlan).where(col(AgencyPlan.agency_id) == agency_id)
    return (await session.execute(query)).scalar_one_or_none()


async def agency_plan_by_subscription(
    session: AsyncSession, stripe_subscription_id: str
) -> AgencyPlan | None:
    query = (
        select(AgencyPlan)
        .where(col(AgencyPlan.stripe_subscription_id) == stripe_subscription_id)
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()
