from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.tokens import Tokens


@pytest.fixture(scope="session")
async def catalog(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["catalog"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def emulator(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def stripe_sdk(infra: Infra) -> stripe.StripeClient:
    """The official SDK, to look at what catalog made on Stripe."""
    assert infra.stripe_api_base is not None
    return stripe.StripeClient("sk_test_emulator", base_addresses={"api": infra.stripe_api_base})


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    return await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)
