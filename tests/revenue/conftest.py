from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture(scope="session")
async def revenue(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["revenue"], timeout=30) as client:
        yield client
