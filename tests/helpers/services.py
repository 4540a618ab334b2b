"""Every service of the product running as its own process on a stack, wired to the emulator
as ``make run`` wires them, with the test suite's gateway and webhook secrets."""

from __future__ import annotations

import os

from billing_devstack import Stack, free_port
from tests.helpers.tokens import TEST_JWT_SECRET

SERVICE_NAMES = ("catalog", "subscriptions", "invoicing", "webhook-ingest", "revenue")


def serve_all(stack: Stack) -> dict[str, str]:
    """Start every service on free ports and register webhook-ingest with the emulator;
    name → base URL."""
    ports = {name: free_port() for name in SERVICE_NAMES}
    env = {f"{name.upper().replace('-', '_')}_PORT": str(port) for name, port in ports.items()}
    env["GATEWAY_JWT_SECRET"] = TEST_JWT_SECRET
    env["STRIPE_WEBHOOK_SECRETS"] = "whsec_test_platform"
    env["STRIPE_CONNECT_WEBHOOK_SECRETS"] = "whsec_test_connect"
    stack.env = {**os.environ, **env}
    stack.start_services(SERVICE_NAMES)
    stack.register_webhooks(f"http://127.0.0.1:{ports['webhook-ingest']}")
    return {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
