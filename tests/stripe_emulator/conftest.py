"""Fixtures: the emulator served in-process on a free port, SDK clients, a webhook receiver."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import pytest
import stripe
import uvicorn

from billing_devstack import free_port
from stripe_emulator.app import create_app
from stripe_emulator.settings import Settings
from tests.helpers.stripe_fixtures import stripe_resources

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


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    settings = Settings(
        port=free_port(), webhook_retry_base_seconds=0.05, webhook_retry_max_seconds=0.2
    )
    with serving(settings) as url:
        yield Emulator(url)


@pytest.fixture
def fresh(emulator: Emulator) -> Emulator:
    """The emulator emptied for this test."""
    emulator.control("POST", "/reset")
    return emulator


@pytest.fixture
def client(fresh: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": fresh.url})


@pytest.fixture
def async_client(fresh: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": fresh.url}, http_client=stripe.HTTPXClient()
    )


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


@pytest.fixture(scope="session")
def fixtures() -> dict[str, Any]:
    return stripe_resources()


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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_first > 0:
                state.fail_first -= 1
                self.send_response(500)
                self.end_headers()
                return
            state.received.append((body, self.headers["Stripe-Signature"], self.path))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
