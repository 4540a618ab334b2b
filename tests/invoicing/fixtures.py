"""Clients of the running stack for invoicing's tests (API tests and end-to-end): the
invoicing API and webhook-ingest, next to the catalog, emulator and onboarded-agency
fixtures the catalog tests already provide."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.catalog.conftest import agency, catalog, emulator, stripe_sdk

__all__ = ["agency", "catalog", "emulator", "ingest", "invoicing", "stripe_sdk"]


@pytest.fixture(scope="session")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def ingest(services: dict[str, str]) -> str:
    return services["webhook-ingest"]
