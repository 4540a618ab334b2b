"""Databases for tests: a fresh database, migrated for the services a test needs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_kit.db import asyncpg_dsn, create_engine, session_factory
from billing_kit.migrations import upgrade

REPO = Path(__file__).resolve().parents[2]
SERVICE_DIRS = {
    "catalog": "catalog",
    "subscriptions": "subscriptions",
    "invoicing": "invoicing",
    "webhook_ingest": "webhook-ingest",
    "revenue": "revenue",
}


def migrations_dir(service: str) -> Path:
    return REPO / "services" / SERVICE_DIRS[service] / "migrations"


def migrate(database_url: str, services: list[str] | None = None) -> None:
    for service in services or list(SERVICE_DIRS):
        upgrade(migrations_dir(service), database_url)


async def connect(database_url: str) -> asyncpg.Connection:
    """A plain asyncpg connection to the database behind a service's ``DATABASE_URL``."""
    return await asyncpg.connect(asyncpg_dsn(database_url))


async def create_database(server_url: str, prefix: str = "t") -> str:
    """A new empty database on the same server; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


async def migrated_database(server_url: str, service: str) -> str:
    """A new database holding ``service``'s schema only, for tests that run it in process."""
    url = await create_database(server_url, service)
    await asyncio.to_thread(migrate, url, [service])
    return url


@contextlib.asynccontextmanager
async def service_sessions(
    server_url: str, service: str, *, pool_size: int = 2
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a fresh database migrated for ``service``; the engine closed on exit."""
    engine = create_engine(await migrated_database(server_url, service), pool_size=pool_size)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
