"""Fixtures: the emulator served in-process on a free port, SDK clients, a webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from billing_devstack import free_port
from stripe_emulator.settings import Settings
from tests.helpers.stripe_emulator.emulator import API_KEY, Emulator, Receiver, serving
from tests.helpers.stripe_fixtures import stripe_resources


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


@pytest.fixture(scope="session")
def fixtures() -> dict[str, Any]:
    return stripe_resources()


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
