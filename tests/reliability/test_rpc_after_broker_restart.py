"""Request/reply after the broker restarts: the embedded broker comes back with its topics
empty (offsets from 0 again), and a requester that had read replies up to some offset must
still see the replies written after that, without being restarted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from billing_devstack import Infra, Stack
from billing_kit.errors import UnavailableError
from billing_kit.kafka import ensure_topics
from billing_kit.rpc import KafkaRequester
from tests.helpers.kafka import restore_topics
from tests.helpers.rpc import Ping, Pong, echo_channel, echo_requester

pytestmark = [pytest.mark.integration, pytest.mark.slow]


ECHO = echo_channel("kit.rpc-restart")


@pytest.fixture
async def requester(infra: Infra) -> AsyncIterator[KafkaRequester]:
    async with echo_requester(infra, ECHO) as requester:
        yield requester


async def _ask(requester: KafkaRequester, n: int, within: float = 10.0) -> Pong:
    return await requester.request(
        ECHO.name, key=str(n), body=Ping(n=n), reply=Pong, timeout=within
    )


async def test_requests_are_answered_again_once_the_broker_is_back(
    requester: KafkaRequester, stack: Stack, infra: Infra
) -> None:
    # Move the reply topic's offsets well past where they start again after the restart.
    before = await asyncio.gather(*(_ask(requester, n, within=30) for n in range(40)))
    assert [pong.n for pong in before] == list(range(40))

    await asyncio.to_thread(stack.restart_broker, 2.0)
    await restore_topics(infra.kafka_bootstrap)
    await ensure_topics(infra.kafka_bootstrap, [ECHO.name, *ECHO.reply_topics])

    answered: list[int] = []
    async with asyncio.timeout(90):
        while not answered:  # the first requests may find the consumers still rejoining
            try:
                answered.append((await _ask(requester, 1000, within=5)).n)
            except UnavailableError:
                continue
    # Then every request is answered, in its own time.
    after = await asyncio.gather(*(_ask(requester, n) for n in range(1001, 1011)))
    assert answered + [pong.n for pong in after] == list(range(1000, 1011))
