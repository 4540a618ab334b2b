from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.catalog.conftest import agency, catalog, emulator, stripe_sdk

__all__ = ["agency", "catalog", "emulator", "stripe_sdk", "subscriptions"]


@pytest.fixture(scope="session")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client
