"""A request/reply channel of the tests' own: a number asked, the number and its double
answered."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from pydantic import BaseModel

from billing_contracts.topics import RequestChannel
from billing_devstack import Infra
from billing_kit.rpc import KafkaRequester, serve_requests
from tests.helpers.runtimes import isolated_runtime


class Ping(BaseModel):
    n: int


class Pong(BaseModel):
    n: int
    doubled: int


async def double(ping: Ping) -> Pong:
    return Pong(n=ping.n, doubled=2 * ping.n)


def echo_channel(name: str) -> RequestChannel:
    """``<name>.v1`` for requests, ``<name>-replies.v1`` for their replies."""
    return RequestChannel(
        name=f"{name}.v1",
        description="test",
        request=Ping,
        reply=Pong,
        reply_topics=(f"{name}-replies.v1",),
    )


@contextlib.asynccontextmanager
async def echo_requester(infra: Infra, channel: RequestChannel) -> AsyncIterator[KafkaRequester]:
    """A running service that answers ``channel`` and asks it (a consumer group of its own)."""
    runtime = await isolated_runtime(
        infra, "rpc", consumer_group_prefix=f"rpc-{uuid.uuid4().hex[:8]}"
    )
    serve_requests(runtime, channel, "echo", double)
    requester = KafkaRequester(runtime, reply_topic=channel.reply_topics[0])
    async with runtime.running():
        yield requester
