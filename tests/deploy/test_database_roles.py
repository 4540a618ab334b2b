"""The compose file's Postgres initialisation (``deploy/postgres/init-roles.sh`` running
``roles.sql``), for real: against the test stack's Postgres, in a database of its own. Each
service's role migrates and uses its own schema, and nothing else."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from billing_devstack import Infra
from billing_kit.db import asyncpg_dsn
from billing_kit.migrations import upgrade
from tests.helpers.databases import create_database, migrations_dir

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
ROLES = ("catalog", "subscriptions", "invoicing", "webhook_ingest", "revenue")
PASSWORD = "role-test-password"


def initialise(url: str) -> None:
    """What the Postgres container runs on its first start, with the env file's passwords."""
    admin = make_url(url)
    env = {
        **os.environ,
        "POSTGRES_USER": admin.username or "postgres",
        "POSTGRES_DB": admin.database or "",
        "PGHOST": admin.host or "127.0.0.1",
        "PGPORT": str(admin.port or 5432),
        "PGPASSWORD": admin.password or "",
        "ROLES_SQL": str(REPO / "deploy/postgres/roles.sql"),
        **{f"{role.upper()}_DB_PASSWORD": PASSWORD for role in ROLES},
    }
    script = REPO / "deploy/postgres/init-roles.sh"
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=PASSWORD).render_as_string(False)


async def test_each_service_role_uses_its_own_schema_and_nothing_else(infra: Infra) -> None:
    url = await create_database(infra.database_url, "roles")
    await asyncio.to_thread(initialise, url)
    await asyncio.to_thread(initialise, url)  # roles that exist already are kept
    for service in ("catalog", "webhook_ingest"):
        await asyncio.to_thread(upgrade, migrations_dir(service), as_role(url, service))

    conn = await asyncpg.connect(asyncpg_dsn(as_role(url, "catalog")))
    try:
        assert await conn.fetchval("SELECT count(*) FROM catalog.outbox") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM webhook_ingest.outbox")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE webhook_ingest.intruder (id int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (id int)")
    finally:
        await conn.close()
