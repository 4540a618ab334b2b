"""The Stripe emulator served in-process for its own tests: a handle on it, the SDK's key,
onboarding a connected account, reading expandable fields, a webhook receiver's record."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import stripe
import uvicorn

from stripe_emulator.app import create_app
from stripe_emulator.settings import Settings

T = TypeVar("T")

API_KEY = "sk_test_emulator"


@dataclass
class Emulator:
    url: str

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.url}/_emulator{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def advance(self, seconds: int) -> int:
        return int(self.control("POST", "/clock/advance", {"seconds": seconds})["now"])


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """An emulator built from `settings`, served on `settings.port` until the block ends
    (stopped as a signal stops it: the lifespan's shutdown runs)."""
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def unexpanded(value: str | stripe.StripeObject | None) -> str:
    """An expandable field that was not expanded: its id (fails if it was expanded or absent)."""
    assert isinstance(value, str), value
    return value


def expanded(value: str | T | None, kind: type[T]) -> T:
    """An expandable field that was expanded: the object (fails if only the id came back)."""
    assert isinstance(value, kind), value
    return value


def onboarded_account(client: stripe.StripeClient, emulator: Emulator) -> str:
    account = client.v1.accounts.create(params={"type": "express", "email": "agency@example.com"})
    emulator.control("POST", f"/accounts/{account.id}/complete_onboarding")
    return account.id


@dataclass
class Receiver:
    """A tiny HTTP server that records webhook deliveries (raw body + signature header)."""

    url: str
    received: list[tuple[bytes, str, str]] = field(default_factory=list)
    fail_first: int = 0

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = [json.loads(body) for body, _, _ in list(self.received)]
            if predicate(events):
                return events
            time.sleep(0.02)
        raise AssertionError(f"webhooks not received in time: {[e['type'] for e in events]}")
