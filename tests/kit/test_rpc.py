"""Kafka request/reply: each of many concurrent requests gets its own reply by correlation id;
no reply in time is ``UnavailableError``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pydantic import BaseModel

from billing_contracts.topics import RequestChannel
from billing_devstack import Infra
from billing_kit.errors import UnavailableError
from billing_kit.rpc import KafkaRequester, serve_requests
from tests.support.runtimes import isolated_runtime

pytestmark = [pytest.mark.integration]


class Ping(BaseModel):
    n: int


class Pong(BaseModel):
    n: int
    doubled: int


ECHO = RequestChannel(
    name="kit.rpc-echo.v1",
    description="test",
    request=Ping,
    reply=Pong,
    reply_topics=("kit.rpc-replies.v1",),
)


@pytest.fixture(scope="module")
async def requester(infra: Infra) -> AsyncIterator[KafkaRequester]:
    runtime = await isolated_runtime(
        infra, "rpc", consumer_group_prefix=f"rpc-{uuid.uuid4().hex[:8]}"
    )

    async def double(ping: Ping) -> Pong:
        return Pong(n=ping.n, doubled=2 * ping.n)

    serve_requests(runtime, ECHO, "echo", double)
    requester = KafkaRequester(runtime, reply_topic=ECHO.reply_topics[0])
    async with runtime.running():
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
