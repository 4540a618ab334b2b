"""Fixtures of the fault tests: clients of the running services and of the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from billing_devstack import Infra


@pytest.fixture(scope="module")
async def clients(services: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One HTTP client per running service, by service name."""
    opened = {name: httpx.AsyncClient(base_url=url, timeout=30) for name, url in services.items()}
    try:
        yield opened
    finally:
        for client in opened.values():
            await client.aclose()


@pytest.fixture(scope="module")
async def emulator(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def sdk(infra: Infra) -> stripe.StripeClient:
    assert infra.stripe_api_base is not None
    return stripe.StripeClient("sk_test_emulator", base_addresses={"api": infra.stripe_api_base})
