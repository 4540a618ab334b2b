"""Fixtures of the SaaS-fee tests: invoicing's client, an operator, an onboarded agency that
subscriptions already knows may be charged, a migrated database of the test's own for the
retry runner."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncEngine

from billing_devstack import Infra
from billing_kit.db import create_engine
from tests.helpers.agencies import Agency, known_to_subscriptions, onboarded_agency
from tests.helpers.databases import migrated_database
from tests.helpers.saas_fees.steps import retire
from tests.helpers.tokens import Tokens


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


@pytest.fixture
async def retries_db(infra: Infra) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = await migrated_database(infra.database_url, "invoicing")
    engine = create_engine(url, pool_size=1)
    try:
        yield url, engine
    finally:
        await engine.dispose()
