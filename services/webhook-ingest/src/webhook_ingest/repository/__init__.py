"""Every query of the webhook-ingest service, as plain statements on an asyncpg connection:
the ingest hot path runs them on its own lean pool, the consumer on its session's connection
(the same transaction as its inbox row)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from webhook_ingest.models import account_agencies, enrichments, kit_tables, stripe_events
from webhook_ingest.rules.attribution import StoredLink

_EVENTS = stripe_events.fullname
_HELD = enrichments.fullname
_OUTBOX = kit_tables.outbox.fullname
_AGENCIES = account_agencies.fullname

STORE_EVENTS = f"""
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::bool[], $5::int8[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::uuid[], $11::text[], $12::text[], $13::text[],
        $14::text[], $15::text[], $16::text[]
    ) WITH ORDINALITY AS t(
        id, type, account, livemode, created, api_version, payload, endpoint, attention,
        event_id, topic, key, event_type, body, headers, lookup, ord
    )
),
stored AS (
    INSERT INTO {_EVENTS}
        (id, type, account, livemode, created, api_version, payload, endpoint, attention)
    SELECT id, type, account, livemode, created, api_version, payload::jsonb, endpoint, attention
    FROM input ORDER BY ord
    ON CONFLICT (id) DO NOTHING
    RETURNING id
),
new AS (
    SELECT i.*, (
        i.lookup IS NOT NULL
        OR EXISTS (SELECT 1 FROM {_HELD} h WHERE h.topic = i.topic AND h.key = i.key)
        OR EXISTS (
            SELECT 1 FROM input j JOIN stored js ON js.id = j.id
            WHERE j.topic = i.topic AND j.key = i.key AND j.ord < i.ord AND j.lookup IS NOT NULL
        )
    ) AS held
    FROM input i JOIN stored s ON s.id = i.id
    WHERE i.topic IS NOT NULL
),
waiting AS (
    INSERT INTO {_HELD} (event_id, topic, key, event_type, body, headers, lookup)
    SELECT event_id, topic, key, event_type, body, headers::jsonb, lookup::jsonb
    FROM new WHERE held ORDER BY ord
),
queued AS (
    INSERT INTO {_OUTBOX} (event_id, topic, key, event_type, body, headers)
    SELECT event_id, topic, key, event_type, body, headers::jsonb
    FROM new WHERE NOT held ORDER BY ord
)
SELECT s.id, n.held FROM stored s LEFT JOIN new n ON n.id = s.id
"""
"""Stores a batch of events (one array per column, ids unique within the batch) and, for
those that were new, their contract events: into the outbox, or held back (``enrichments``)
when Stripe's figures are missing or an earlier event of the same aggregate is held. Returns
each new id with whether its contract event was held (None: nothing to publish)."""

STORE_RAW = f"""
INSERT INTO {_EVENTS} (id, type, account, livemode, created, api_version, raw, attention, endpoint)
VALUES ($1, left($2, 200), left($3, 255), $4, $5, left($6, 100), $7, $8, $9)
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
"""An event as received, for an operator: what Postgres would not take as JSON."""

AGENCY_OF_ACCOUNT = f"SELECT agency_id FROM {_AGENCIES} WHERE stripe_account_id = $1"
REMEMBER_ACCOUNT = f"""
INSERT INTO {_AGENCIES} (stripe_account_id, agency_id) VALUES ($1, $2)
ON CONFLICT (stripe_account_id) DO UPDATE SET agency_id = excluded.agency_id, updated_at = now()
WHERE {_AGENCIES}.agency_id <> excluded.agency_id
"""
KNOWN_ACCOUNTS = f"SELECT stripe_account_id FROM {_AGENCIES} ORDER BY stripe_account_id"
NEEDING_ATTENTION = f"""
SELECT id FROM {_EVENTS}
WHERE attention IS NOT NULL AND created BETWEEN $1 AND $2
ORDER BY created, id LIMIT $3
"""
MARKED = f"""
SELECT id, endpoint, coalesce(payload::text, raw) AS body FROM {_EVENTS}
WHERE attention IS NOT NULL AND created BETWEEN $1 AND $2
ORDER BY created, id
"""
UNMARK = f"DELETE FROM {_EVENTS} WHERE id = $1 AND attention IS NOT NULL RETURNING received_at"
"""A marked event's row goes, to be stored again (in the same transaction) as a new one."""
RECEIVED_AT = f"UPDATE {_EVENTS} SET received_at = $2 WHERE id = $1"

DUE_HEADS = f"""
SELECT id, topic, body, lookup, attempts FROM (
    SELECT DISTINCT ON (topic, key) id, topic, body, lookup, attempts, next_attempt_at
    FROM {_HELD} ORDER BY topic, key, id
) heads
WHERE next_attempt_at <= now()
ORDER BY id LIMIT $1
"""
"""The first held event of each aggregate, when its turn has come."""
RELEASE = f"""
WITH completed AS (SELECT * FROM unnest($1::int8[], $2::text[]) AS c(id, body)),
released AS (
    DELETE FROM {_HELD} h USING completed c WHERE h.id = c.id
    RETURNING h.id, h.event_id, h.topic, h.key, h.event_type, c.body, h.headers
)
INSERT INTO {_OUTBOX} (event_id, topic, key, event_type, body, headers)
SELECT event_id, topic, key, event_type, body, headers FROM released ORDER BY id
"""
"""Moves held events, completed (``$1`` their ids, ``$2`` their bodies), to the outbox in
the order they were held, each once: one statement for a pass's events."""
POSTPONE = f"""
UPDATE {_HELD} SET attempts = attempts + 1, last_error = $2,
    next_attempt_at = now() + make_interval(secs => $3)
WHERE id = $1
"""
HELD_STATE = f"""
SELECT count(*) AS held, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS oldest,
    min(next_attempt_at) - now() AS next_due
FROM {_HELD}
"""
UNLOCK_WITH_STATE = f"""
SELECT pg_advisory_unlock($1) AS unlocked, s.* FROM ({HELD_STATE}) s
"""
"""The enricher's lock released, with the state ``held_state`` reads: one round trip at the
end of a pass instead of two."""
STORED_LINKS = f"""
WITH wanted AS (
    SELECT DISTINCT account, intent FROM unnest($1::text[], $2::text[]) AS w(account, intent)
),
paid AS (
    SELECT w.account, w.intent, e.created AS paid_seen,
        e.payload #>> '{{data,object,invoice}}' AS invoice_id
    FROM wanted w JOIN {_EVENTS} e
        ON e.type = 'invoice_payment.paid' AND e.account = w.account
        AND (e.payload #>> '{{data,object,payment,payment_intent}}') = w.intent
)
SELECT p.account, p.intent, p.invoice_id, p.paid_seen, i.created AS seen,
    (i.payload #> '{{data,object,created}}')::text AS invoice_created,
    (i.payload #> '{{data,object,metadata}}')::text AS metadata,
    (i.payload #> '{{data,object,subscription}}')::text AS subscription,
    (i.payload #> '{{data,object,parent,subscription_details}}')::text AS subscription_details
FROM paid p LEFT JOIN {_EVENTS} i
    ON i.type LIKE 'invoice.%' AND i.account = p.account
    AND (i.payload #>> '{{data,object,id}}') = p.invoice_id
"""
"""For each (account, payment intent) of ``$1``/``$2``: every stored ``invoice_payment.paid``
of the payment intent, with every stored event of the invoice it names (none: nulls)."""

ENRICHER_LOCK = zlib.crc32(f"enricher:{_HELD}".encode())
"""One enricher works at a time (across workers and replicas): no Stripe read twice."""


async def store_events(conn: asyncpg.Connection, columns: Sequence[Sequence[Any]]) -> list[Any]:
    return list(await conn.fetch(STORE_EVENTS, *columns))


async def store_raw(conn: asyncpg.Connection, *row: Any) -> bool:
    return await conn.fetchval(STORE_RAW, *row) is not None


async def agency_of_account(conn: asyncpg.Connection, account_id: str) -> str | None:
    found = await conn.fetchval(AGENCY_OF_ACCOUNT, account_id)
    return None if found is None else str(found)


async def remember_account(conn: asyncpg.Connection, account_id: str, agency_id: str) -> None:
    await conn.execute(REMEMBER_ACCOUNT, account_id, agency_id)


async def remember_account_in(session: AsyncSession, account_id: str, agency_id: str) -> None:
    """``remember_account`` inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await remember_account(raw.driver_connection, account_id, agency_id)


async def known_accounts(conn: asyncpg.Connection) -> list[str]:
    return [record[0] for record in await conn.fetch(KNOWN_ACCOUNTS)]


async def needing_attention(
    conn: asyncpg.Connection, start: int, end: int, limit: int = 100
) -> list[str]:
    return [record[0] for record in await conn.fetch(NEEDING_ATTENTION, start, end, limit)]


async def marked(conn: asyncpg.Connection, start: int, end: int) -> list[Any]:
    return list(await conn.fetch(MARKED, start, end))


async def store_again(
    conn: asyncpg.Connection, event_id: str, columns: Sequence[Sequence[Any]]
) -> list[Any] | None:
    """Store a marked event anew (its contract event too), keeping when it was received;
    None when it is no longer marked. Run in a transaction."""
    received_at = await conn.fetchval(UNMARK, event_id)
    if received_at is None:
        return None
    stored = await store_events(conn, columns)
    await conn.execute(RECEIVED_AT, event_id, received_at)
    return stored


async def stored_links(
    conn: asyncpg.Connection, payments: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[StoredLink]]:
    """What the stored events tell of the invoice each (account, payment intent) paid."""
    if not payments:
        return {}
    accounts, intents = zip(*payments, strict=True)
    found: dict[tuple[str, str], list[StoredLink]] = {}
    for row in await conn.fetch(STORED_LINKS, list(accounts), list(intents)):
        found.setdefault((row["account"], row["intent"]), []).append(
            StoredLink(
                invoice_id=row["invoice_id"],
                paid_seen=row["paid_seen"],
                seen=row["seen"],
                invoice_created=row["invoice_created"],
                metadata=row["metadata"],
                subscription=row["subscription"],
                subscription_details=row["subscription_details"],
            )
        )
    return found


async def due_heads(conn: asyncpg.Connection, limit: int) -> list[Any]:
    return list(await conn.fetch(DUE_HEADS, limit))


async def release(conn: asyncpg.Connection, completed: Sequence[tuple[int, str]]) -> int:
    """Move the held events ``completed`` ((id, body)) to the outbox; returns how many moved
    (one already moved is not moved again)."""
    if not completed:
        return 0
    ids, bodies = zip(*completed, strict=True)
    return int(str(await conn.execute(RELEASE, list(ids), list(bodies))).rsplit(" ", 1)[1])


async def postpone(conn: asyncpg.Connection, held_id: int, error: str, delay: float) -> None:
    await conn.execute(POSTPONE, held_id, error, delay)


@dataclass(frozen=True, slots=True)
class HeldState:
    held: int
    oldest_seconds: float
    """Age of the oldest held event (0 when none)."""
    next_due_seconds: float | None
    """How soon the next held event is due (0 when one is due now; None when none is held)."""


def _held_state(row: Any) -> HeldState:
    due = row["next_due"]
    return HeldState(
        int(row["held"]),
        float(row["oldest"]),
        None if due is None else max(0.0, due.total_seconds()),
    )


async def held_state(conn: asyncpg.Connection) -> HeldState:
    return _held_state(await conn.fetchrow(HELD_STATE))


async def try_lock_enricher(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", ENRICHER_LOCK))


async def unlock_enricher(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", ENRICHER_LOCK)


async def unlock_enricher_with_state(conn: asyncpg.Connection) -> HeldState:
    """``unlock_enricher`` and ``held_state`` in one round trip."""
    return _held_state(await conn.fetchrow(UNLOCK_WITH_STATE, ENRICHER_LOCK))
