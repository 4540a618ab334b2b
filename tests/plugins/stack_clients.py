"""Clients of the running stack, for every test folder: each service's API, webhook-ingest's
base URL, the Stripe emulator over HTTP and through the official SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.waiting import eventually


@pytest.fixture(scope="session")
async def catalog(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["catalog"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:

        async def ready() -> bool:  # consumers and relay run once the broker is connected
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, within=60)
        yield client


@pytest.fixture(scope="session")
async def revenue(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["revenue"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def ingest(services: dict[str, str]) -> str:
    return services["webhook-ingest"]


@pytest.fixture(scope="session")
async def emulator(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def stripe_sdk(infra: Infra) -> stripe.StripeClient:
    """The official SDK, to look at what the services made on Stripe."""
    assert infra.stripe_api_base is not None
    return emulator_sdk(infra.stripe_api_base)
