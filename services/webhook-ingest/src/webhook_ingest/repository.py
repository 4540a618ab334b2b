"""Every query of the webhook-ingest service."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from webhook_ingest.models import AccountAgency, kit_tables, stripe_events

# The hot path: the raw event (its body cast to JSONB as received, not re-serialized) and,
# only if it was new, its outbox row, in one statement and one round trip.
_STORE_EVENT = f"""
INSERT INTO {stripe_events.fullname}
    (id, type, account, livemode, created, api_version, payload, endpoint)
VALUES
    (:id, :type, :account, :livemode, :created, :api_version, CAST(:payload AS jsonb), :endpoint)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
STORE_EVENT = text(_STORE_EVENT)
STORE_EVENT_WITH_OUTBOX = text(
    f"""
WITH stored AS ({_STORE_EVENT})
INSERT INTO {kit_tables.outbox.fullname} (event_id, topic, key, event_type, body, headers)
SELECT :event_id, :topic, :key, :event_type, :body, CAST(:headers AS jsonb) FROM stored
RETURNING id
"""
)


def _event_params(event: Mapping[str, Any], raw: str | None, endpoint: str) -> dict[str, Any]:
    return {
        "id": event["id"],
        "type": event["type"],
        "account": event.get("account"),
        "livemode": bool(event.get("livemode")),
        "created": event["created"],
        "api_version": event.get("api_version"),
        "payload": raw if raw is not None else json.dumps(event),
        "endpoint": endpoint,
    }


async def store_event(
    session: AsyncSession,
    event: Mapping[str, Any],
    raw: str | None,
    endpoint: str,
    outbox_row: Mapping[str, Any] | None,
) -> bool:
    """Store the raw event under its Stripe id, with its outbox row when it has one; False
    (and nothing written) when the event was already there."""
    params = _event_params(event, raw, endpoint)
    if outbox_row is None:
        stored = await session.execute(STORE_EVENT, params)
    else:
        params.update(
            event_id=outbox_row["event_id"],
            topic=outbox_row["topic"],
            key=outbox_row["key"],
            event_type=outbox_row["event_type"],
            body=outbox_row["body"],
            headers=json.dumps(outbox_row["headers"]),
        )
        stored = await session.execute(STORE_EVENT_WITH_OUTBOX, params)
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
