"""Each service's migrations build exactly its models (``alembic check``), inside its schema."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from billing_devstack import Infra
from billing_kit.migrations import check
from tests.support.databases import SERVICE_DIRS, migrations_dir

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", sorted(SERVICE_DIRS))
async def test_models_and_migrations_agree(infra: Infra, service: str) -> None:
    await asyncio.to_thread(check, migrations_dir(service), infra.database_url)


async def test_every_service_keeps_its_tables_and_version_table_in_its_own_schema(
    infra: Infra,
) -> None:
    conn = await asyncpg.connect(infra.database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = ANY($1::text[])",
            list(SERVICE_DIRS),
        )
        public = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    by_schema: dict[str, set[str]] = {}
    for row in rows:
        by_schema.setdefault(row["table_schema"], set()).add(row["table_name"])
    for schema in SERVICE_DIRS:
        assert {"alembic_version", "outbox", "inbox", "idempotency_keys"} <= by_schema[schema]
    assert not [row["table_name"] for row in public]
