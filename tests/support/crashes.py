"""A service that dies between Stripe's answer and its own commit, made faithfully: the
request's transaction fails at ``COMMIT`` (a deferred trigger on the service's
``idempotency_keys`` refuses keys starting with ``crash-``), after every Stripe call of the
command was made and before anything the request wrote is kept. Its row in
``idempotency_keys`` is lost with it, as after a ``kill -9``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from tests.support.databases import connect

CRASH_PREFIX = "crash-"


def crashing_key() -> str:
    """An ``Idempotency-Key`` whose request dies at commit while ``commits_die`` holds."""
    return f"{CRASH_PREFIX}{uuid.uuid4().hex}"


@contextlib.asynccontextmanager
async def commits_die(database_url: str, schema: str) -> AsyncIterator[None]:
    """While the block runs, ``schema``'s requests carrying a crashing key fail to commit."""
    name = f"crash_at_commit_{uuid.uuid4().hex[:8]}"
    conn = await connect(database_url)
    try:
        await conn.execute(
            f"CREATE FUNCTION {schema}.{name}() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the process died before its commit'; END $$"
        )
        await conn.execute(
            f"CREATE CONSTRAINT TRIGGER {name} AFTER INSERT OR UPDATE ON "
            f"{schema}.idempotency_keys DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"WHEN (NEW.key LIKE '{CRASH_PREFIX}%') EXECUTE FUNCTION {schema}.{name}()"
        )
        yield
    finally:
        await conn.execute(f"DROP TRIGGER IF EXISTS {name} ON {schema}.idempotency_keys")
        await conn.execute(f"DROP FUNCTION IF EXISTS {schema}.{name}()")
        await conn.close()


async def pending_commands_of(
    database_url: str, schema: str, agency_id: str
) -> list[dict[str, object]]:
    """``id``, ``kind``, ``status`` and ``result`` of an agency's pending records."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            f"SELECT id, kind, status, result FROM {schema}.pending_commands"
            " WHERE agency_id = $1 ORDER BY created_at",
            agency_id,
        )
    finally:
        await conn.close()
    return [dict(row) for row in rows]
