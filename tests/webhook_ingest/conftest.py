"""Fixtures of webhook-ingest's tests over the real stack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from billing_devstack import Infra
from tests.helpers.databases import connect


@pytest.fixture(scope="module")
async def db(infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(infra.database_url)
    try:
        yield conn
    finally:
        await conn.close()
