"""Delivering signed events to webhook-ingest and looking at what it stored and published."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx

from billing_devstack import Stack
from tests.helpers.kafka import read_topic
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.stripe_events import PLATFORM_SECRET, body_of, new_id, signed
from webhook_ingest.rules.normalize import contract_event_id


async def stored_rows(db: asyncpg.Connection, *event_ids: str) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM webhook_ingest.stripe_events WHERE id = ANY($1::text[])",
        list(event_ids),
    )
    return int(count)


async def published(bootstrap: str, topic: str, stripe_event_id: str) -> list[dict[str, Any]]:
    """The contract events of ``stripe_event_id`` on ``topic``."""
    wanted = str(contract_event_id(stripe_event_id))
    found = []
    for record in await read_topic(bootstrap, topic):
        body = json.loads(record.value)
        if body["event_id"] == wanted:
            found.append(body)
    return found


async def post_event(
    url: str, event: dict[str, Any], secret: str = PLATFORM_SECRET, **headers: str
) -> httpx.Response:
    body = body_of(event)
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, content=body, headers={**signed(body, secret), **headers})


async def ensure_endpoints(stack: Stack, api: str, ingest: str) -> None:
    """Webhook endpoints registered at the emulator (after an emulator reset, again)."""
    async with httpx.AsyncClient(timeout=30) as client:
        listed = await client.get(
            f"{api}/v1/webhook_endpoints", headers={"Authorization": "Bearer sk_test_emulator"}
        )
    if not any(e["url"].startswith(ingest) for e in listed.json().get("data", [])):
        await asyncio.to_thread(stack.register_webhooks, ingest)


async def after_a_marker(
    url: str,
    event: dict[str, Any],
    bootstrap: str,
    topic: str,
    obj: dict[str, Any] | None = None,
) -> None:
    """Deliver a new event of ``event``'s object (or of ``obj``) and wait until it is
    published: what the service published for ``event`` before it (same key, so same
    partition) is on the topic by then."""
    data = event["data"] if obj is None else {**event["data"], "object": obj}
    marker = {**event, "id": new_id("evt"), "data": data}
    assert (await post_event(url, marker)).status_code == 200

    async def arrived() -> bool:
        return bool(await published(bootstrap, topic, marker["id"]))

    await eventually(arrived, within=30)
