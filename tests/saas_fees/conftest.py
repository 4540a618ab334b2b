"""Fixtures of the SaaS-fee tests: the services' clients, an operator, an onboarded agency
that subscriptions already knows may be charged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.catalog.conftest import catalog, emulator, stripe_sdk
from tests.helpers.agencies import Agency, known_to_subscriptions, onboarded_agency
from tests.helpers.saas_fees.retries import retries_db
from tests.helpers.saas_fees.steps import retire
from tests.helpers.tokens import Tokens
from tests.subscriptions.conftest import subscriptions

__all__ = ["catalog", "emulator", "retries_db", "stripe_sdk", "subscriptions"]


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> AsyncIterator[Agency]:
    """An onboarded agency subscriptions knows may be charged; retired after the test."""
    onboarded = await known_to_subscriptions(
        infra.database_url,
        await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap),
    )
    yield onboarded
    assert onboarded.account_id is not None
    retire(stripe_sdk, onboarded.account_id)


@pytest.fixture(scope="session")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def operator(tokens: Tokens) -> dict[str, str]:
    return tokens.headers("platform_operator")
