"""Waiting for effects that cross processes (Kafka, other services)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 45.0, poll: float = 0.1
) -> None:
    """Poll ``check`` every ``poll`` seconds until it holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():
            await asyncio.sleep(poll)
