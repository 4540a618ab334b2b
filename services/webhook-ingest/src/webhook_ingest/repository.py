"""Every query of the webhook-ingest service."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhook_ingest.models import AccountAgency, StripeEvent


async def store_event(session: AsyncSession, event: Mapping[str, Any], endpoint: str) -> bool:
    """Store the raw event under its Stripe id; False when it was already there."""
    stored = await session.execute(
        insert(StripeEvent)
        .values(
            id=event["id"],
            type=event["type"],
            account=event.get("account"),
            livemode=bool(event.get("livemode")),
            created=event["created"],
            api_version=event.get("api_version"),
            payload=event,
            endpoint=endpoint,
        )
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    return stored.first() is not None


async def agency_of_account(session: AsyncSession, account_id: str) -> str | None:
    query = select(AccountAgency.agency_id).where(AccountAgency.stripe_account_id == account_id)
    return (await session.execute(query)).scalar_one_or_none()


async def remember_account(session: AsyncSession, account_id: str, agency_id: str) -> None:
    statement = insert(AccountAgency).values(stripe_account_id=account_id, agency_id=agency_id)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[AccountAgency.stripe_account_id],
            set_={"agency_id": statement.excluded.agency_id},
            where=AccountAgency.agency_id != statement.excluded.agency_id,
        )
    )


async def known_accounts(session: AsyncSession) -> Sequence[str]:
    query = select(AccountAgency.stripe_account_id).order_by(AccountAgency.stripe_account_id)
    return (await session.execute(query)).scalars().all()
