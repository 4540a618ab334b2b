"""An agency onboarded through catalog (its Connect account enabled on the emulator), for
every test folder; a folder whose tests need more of it (known to subscriptions, retired
afterwards) overrides ``agency`` in its own conftest."""

from __future__ import annotations

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency
from tests.helpers.tokens import Tokens


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    return await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)
