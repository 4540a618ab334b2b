"""Each service's migrations build exactly its models (``alembic check``) from an empty
database, inside its own schema, and can be rolled back to nothing and replayed."""

from __future__ import annotations

import asyncio

import pytest

from billing_devstack import Infra
from billing_kit.migrations import check, downgrade, upgrade
from tests.helpers.databases import SERVICE_DIRS, connect, create_database, migrations_dir

pytestmark = pytest.mark.integration


async def _tables(url: str) -> dict[str, set[str]]:
    conn = await connect(url)
    try:
        rows = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await conn.close()
    tables: dict[str, set[str]] = {}
    for row in rows:
        tables.setdefault(row["table_schema"], set()).add(row["table_name"])
    return tables


@pytest.mark.parametrize("service", sorted(SERVICE_DIRS))
async def test_migrations_build_the_models_in_the_service_s_own_schema(
    infra: Infra, service: str
) -> None:
    url = await create_database(infra.database_url, "mig")
    directory = migrations_dir(service)
    await asyncio.to_thread(upgrade, directory, url)
    await asyncio.to_thread(check, directory, url)  # raises when models and migrations differ
    tables = await _tables(url)
    assert set(tables) == {service}, "a service touches no schema but its own"
    assert {"alembic_version", "outbox", "inbox", "idempotency_keys"} <= tables[service]

    await asyncio.to_thread(downgrade, directory, url)
    assert (await _tables(url)).get(service, set()) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, directory, url)
    await asyncio.to_thread(check, directory, url)
