"""Kafka request/reply: each of many concurrent requests gets its own reply by correlation id;
no reply in time is ``UnavailableError``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from billing_devstack import Infra
from billing_kit.errors import UnavailableError
from billing_kit.rpc import KafkaRequester
from tests.helpers.rpc import Ping, Pong, echo_channel, echo_requester

pytestmark = [pytest.mark.integration]


ECHO = echo_channel("kit.rpc-echo")


@pytest.fixture(scope="module")
async def requester(infra: Infra) -> AsyncIterator[KafkaRequester]:
    async with echo_requester(infra, ECHO) as requester:
        yield requester


async def test_concurrent_requests_each_get_their_own_reply(requester: KafkaRequester) -> None:
    replies = await asyncio.gather(
        *(
            requester.request(ECHO.name, key=str(n), body=Ping(n=n), reply=Pong, timeout=30)
            for n in range(50)
        )
    )
    assert [(reply.n, reply.doubled) for reply in replies] == [(n, 2 * n) for n in range(50)]


async def test_no_reply_in_time_is_unavailable(requester: KafkaRequester) -> None:
    with pytest.raises(UnavailableError):
        await requester.request(
            "kit.rpc-nobody-answers.v1", key="k", body=Ping(n=1), reply=Pong, timeout=0.5
        )
