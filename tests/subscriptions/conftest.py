from __future__ import annotations

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import Agency, known_to_subscriptions, onboarded_agency
from tests.helpers.tokens import Tokens


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    """An onboarded agency that subscriptions already knows may bill: catalog's agency events
    reach its replica on their own topic, apart from the products'."""
    onboarded = await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)
    return await known_to_subscriptions(infra.database_url, onboarded)
