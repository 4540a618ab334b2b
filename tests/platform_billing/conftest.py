"""Fixtures of the SaaS-fee tests: the services' clients, an operator, an onboarded agency
that subscriptions already knows may be charged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.catalog.conftest import catalog, emulator, stripe_sdk
from tests.subscriptions.conftest import agency, subscriptions
from tests.support.tokens import Tokens

__all__ = ["agency", "catalog", "emulator", "stripe_sdk", "subscriptions"]


@pytest.fixture(scope="session")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def operator(tokens: Tokens) -> dict[str, str]:
    return tokens.headers("platform_operator")
