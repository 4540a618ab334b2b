"""Fixtures of the fault tests: one handle on the session's stack, its running services and
the Stripe emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from billing_devstack import Infra, Stack
from tests.helpers.reliability.rig import Rig
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import Tokens


@pytest.fixture(scope="module")
async def rig(
    stack: Stack, infra: Infra, tokens: Tokens, services: dict[str, str]
) -> AsyncIterator[Rig]:
    assert infra.stripe_api_base is not None
    sdk = emulator_sdk(infra.stripe_api_base)
    clients = {name: httpx.AsyncClient(base_url=url, timeout=30) for name, url in services.items()}
    try:
        async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
            yield Rig(stack, infra, tokens, services, clients, emulator, sdk)
    finally:
        for client in clients.values():
            await client.aclose()
