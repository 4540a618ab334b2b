"""A service that dies between Stripe's answer and its own commit, made faithfully: the
request's transaction fails at ``COMMIT`` (a deferred trigger on the service's
``idempotency_keys`` refuses keys starting with ``crash-``), after every Stripe call of the
command was made and before anything the request wrote is kept. Its row in
``idempotency_keys`` is lost with it, as after a ``kill -9``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from billing_devstack import Infra
from billing_kit.command_sweeper import CommandSweeper
from billing_kit.runtime import Runtime
from billing_kit.settings import ServiceSettings
from billing_kit.tables import KitTables
from tests.helpers.databases import connect
from tests.helpers.runtimes import close_runtime, service_runtime

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


Request = Callable[[str], Awaitable[httpx.Response]]
"""A command's request made with the given ``Idempotency-Key``."""


def posting(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> Request:
    """The request posting ``body`` to ``path`` with ``headers`` and the key it is given."""

    async def post(key: str) -> httpx.Response:
        return await client.post(path, json=body, headers={**headers, "Idempotency-Key": key})

    return post


async def crash_before_commit(
    database_url: str, schema: str, request: Request, key: str | None = None
) -> str:
    """``request`` made with a crashing key (``key``, or a new one) while ``schema``'s commits
    die: it fails (5xx) after its Stripe calls. The key, for the caller's retry."""
    key = key or crashing_key()
    async with commits_die(database_url, schema):
        crashed = await request(key)
    assert crashed.status_code >= 500, crashed.text
    return key


async def retried_after_crash(database_url: str, schema: str, request: Request) -> httpx.Response:
    """``request`` crashed before its commit, then made again with the same key: the retry."""
    return await request(await crash_before_commit(database_url, schema, request))


@contextlib.asynccontextmanager
async def sweeping_runtime(
    settings_type: type[ServiceSettings], tables: KitTables, infra: Infra
) -> AsyncIterator[Runtime]:
    """A runtime of the service built in the test, whose sweeper takes what a crash left
    pending at once (a record need not be old)."""
    runtime = service_runtime(
        settings_type,
        tables,
        infra,
        infra.database_url,
        stripe_api_base=infra.stripe_api_base,
        command_sweep_after_seconds=0,
    )
    try:
        yield runtime
    finally:
        await close_runtime(runtime)


async def sweep_once(
    settings_type: type[ServiceSettings],
    tables: KitTables,
    sweeper: Callable[[Runtime], CommandSweeper],
    infra: Infra,
) -> int:
    """How many records one pass of the service's sweeper took."""
    async with sweeping_runtime(settings_type, tables, infra) as runtime:
        return await sweeper(runtime).sweep()


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
