"""Clients of the running stack for invoicing's tests (API tests and end-to-end): the
invoicing API and webhook-ingest, next to the catalog, emulator and onboarded-agency
fixtures the catalog tests already provide, and subscriptions (to register workspaces)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.catalog.conftest import agency, catalog, emulator, stripe_sdk
from tests.helpers.waiting import eventually

__all__ = ["agency", "catalog", "emulator", "ingest", "invoicing", "stripe_sdk", "subscriptions"]


@pytest.fixture(scope="session")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:

        async def ready() -> bool:  # consumers and relay run once the broker is connected
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, within=60)
        yield client


@pytest.fixture(scope="session")
def ingest(services: dict[str, str]) -> str:
    return services["webhook-ingest"]


@pytest.fixture(scope="module")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client
