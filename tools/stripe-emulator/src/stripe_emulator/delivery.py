"""Asynchronous, signed, retried delivery of events to the registered webhook endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import time
from collections import deque
from dataclasses import dataclass

import httpx

from stripe_emulator.faults import Faults
from stripe_emulator.settings import Settings
from stripe_emulator.store import Obj, Store

log = logging.getLogger("stripe_emulator.webhooks")


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    endpoint_id: str
    event: Obj
    payload: bytes
    attempt: int = 0
    generation: int = 0


class WebhookDispatcher:
    """Listens to emitted events and posts them to matching endpoints in the background."""

    def __init__(self, store: Store, faults: Faults, settings: Settings) -> None:
        self.store = store
        self.faults = faults
        self.settings = settings
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self.generation = 0
        self.reorder_buffer: list[Delivery] = []
        self.delivered: deque[dict[str, object]] = deque(maxlen=10_000)
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._flush_scheduled = False
        store.listeners.append(self.on_event)

    def matching_endpoints(self, event: Obj) -> list[Obj]:
        store = self.store
        connect_event = "account" in event
        found = []
        for endpoint_id in store.ids(store.platform_id, "webhook_endpoint"):
            endpoint = store.objects[endpoint_id]
            if endpoint["status"] != "enabled":
                continue
            if bool(store.hidden(endpoint_id).get("connect")) != connect_event:
                continue
            events = endpoint["enabled_events"]
            if "*" in events or event["type"] in events:
                found.append(endpoint)
        return found

    def on_event(self, event: Obj) -> None:
        endpoints = self.matching_endpoints(event)
        if not endpoints:
            return
        event["pending_webhooks"] = len(endpoints)
        payload = json.dumps(event, indent=2).encode()
        copies = 2 if self.faults.duplicate_webhooks else 1
        for endpoint in endpoints:
            for _ in range(copies):
                self._enqueue(Delivery(endpoint["id"], event, payload, 0, self.generation))

    def _enqueue(self, delivery: Delivery) -> None:
        if self.faults.reorder_webhooks:
            self.reorder_buffer.append(delivery)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_later(0.05, self._flush_reordered)
            return
        self.queue.put_nowait(delivery)

    def _flush_reordered(self) -> None:
        self._flush_scheduled = False
        batch, self.reorder_buffer = self.reorder_buffer, []
        random.shuffle(batch)
        for delivery in batch:
            self.queue.put_nowait(delivery)

    def reset(self) -> None:
        self.generation += 1
        self.reorder_buffer.clear()
        self.delivered.clear()
        while not self.queue.empty():
            self.queue.get_nowait()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.settings.webhook_timeout_seconds)
        for _ in range(max(1, self.settings.webhook_concurrency)):
            self._tasks.append(asyncio.create_task(self._work()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()

    async def _work(self) -> None:
        while True:
            delivery = await self.queue.get()
            try:
                await self._deliver(delivery)
            except Exception:  # a receiver must never kill the worker
                log.exception("webhook delivery crashed")

    async def _deliver(self, delivery: Delivery) -> None:
        if delivery.generation != self.generation:
            return
        endpoint = self.store.find(delivery.endpoint_id)
        if endpoint is None or endpoint["status"] != "enabled" or self._client is None:
            return
        secret = str(self.store.hidden(delivery.endpoint_id)["secret"])
        delivery.attempt += 1
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Stripe-Signature": sign(delivery.payload, secret, int(time.time())),
        }
        status = 0
        try:
            response = await self._client.post(
                endpoint["url"], content=delivery.payload, headers=headers
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("webhook %s to %s failed: %s", delivery.event["id"], endpoint["url"], exc)
        self.delivered.append(
            {
                "event": delivery.event["id"],
                "type": delivery.event["type"],
                "endpoint": delivery.endpoint_id,
                "attempt": delivery.attempt,
                "status": status,
            }
        )
        if 200 <= status < 300:
            delivery.event["pending_webhooks"] = max(0, delivery.event["pending_webhooks"] - 1)
            return
        if delivery.attempt >= self.settings.webhook_max_attempts:
            return
        delay = min(
            self.settings.webhook_retry_max_seconds,
            self.settings.webhook_retry_base_seconds * 2 ** (delivery.attempt - 1),
        )
        asyncio.get_running_loop().call_later(delay, self.queue.put_nowait, delivery)
