"""Waiting for effects that cross processes (Kafka, other services)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 45.0) -> None:
    """Poll ``check`` until it holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():
            await asyncio.sleep(0.1)
