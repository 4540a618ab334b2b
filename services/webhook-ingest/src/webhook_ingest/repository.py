"""Every query of the webhook-ingest service made through the ORM session (the consumer's
side); the ingest hot path's statements live in ``store.py``."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhook_ingest.models import AccountAgency


async def remember_account(session: AsyncSession, account_id: str, agency_id: str) -> None:
    statement = insert(AccountAgency).values(stripe_account_id=account_id, agency_id=agency_id)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[AccountAgency.stripe_account_id],
            set_={"agency_id": statement.excluded.agency_id},
            where=AccountAgency.agency_id != statement.excluded.agency_id,
        )
    )
