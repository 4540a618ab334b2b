"""The Stripe emulator (package ``stripe_emulator``), run as ``python -m stripe_emulator``."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from billing_devstack.processes import DevstackError, LocalServer, wait_healthy

DEFAULT_PORT = 12111
DEV_WEBHOOK_SECRET = "whsec_dev_platform"
DEV_CONNECT_WEBHOOK_SECRET = "whsec_dev_connect"
EMULATOR_API_KEY = "sk_test_devstack"
INGEST_PATHS = ("/stripe/webhooks", "/stripe/webhooks/connect")


def emulator_available() -> bool:
    """True when ``python -m stripe_emulator`` can run (the package has a ``__main__``)."""
    try:
        return importlib.util.find_spec("stripe_emulator.__main__") is not None
    except ImportError:
        return False


def first_secret(value: str | None, default: str) -> str:
    """First entry of a comma-separated secrets variable, or ``default``."""
    for part in (value or "").split(","):
        if part.strip():
            return part.strip()
    return default


def webhook_secrets(env: Mapping[str, str]) -> tuple[str, str]:
    """The signing secrets (platform, connect) webhook-ingest is told to accept."""
    return (
        first_secret(env.get("STRIPE_WEBHOOK_SECRETS"), DEV_WEBHOOK_SECRET),
        first_secret(env.get("STRIPE_CONNECT_WEBHOOK_SECRETS"), DEV_CONNECT_WEBHOOK_SECRET),
    )


def register_webhook_endpoints(
    api_base: str, ingest_base: str, env: Mapping[str, str] | None = None
) -> None:
    """Register webhook-ingest's platform and Connect endpoints with the emulator."""
    platform_secret, connect_secret = webhook_secrets(os.environ if env is None else env)
    endpoints = [
        {"url": f"{ingest_base}/stripe/webhooks", "connect": False, "secret": platform_secret},
        {
            "url": f"{ingest_base}/stripe/webhooks/connect",
            "connect": True,
            "secret": connect_secret,
        },
    ]
    with httpx.Client(timeout=10.0) as client:
        _forget_earlier_receivers(client, api_base, {str(body["url"]) for body in endpoints})
        for body in endpoints:
            response = client.post(f"{api_base}/_emulator/webhook_endpoints", json=body)
            if response.status_code >= 300:
                raise DevstackError(
                    f"registering webhook endpoint {body['url']} failed: "
                    f"{response.status_code} {response.text[:300]}"
                )


def forget_webhook_endpoints(api_base: str) -> None:
    """Delete every webhook-ingest endpoint registered with the emulator: what it emits next
    is delivered nowhere (the deliveries it still holds for them are dropped)."""
    with httpx.Client(timeout=10.0) as client:
        _forget_earlier_receivers(client, api_base, set())


def _forget_earlier_receivers(client: httpx.Client, api_base: str, wanted: set[str]) -> None:
    """The emulator keeps its state across restarts: delete the webhook-ingest endpoints an
    earlier run registered on other ports, which would otherwise be retried in vain."""
    headers = {"Authorization": f"Bearer {EMULATOR_API_KEY}"}
    listed = client.get(f"{api_base}/v1/webhook_endpoints?limit=100", headers=headers)
    if listed.status_code >= 300:
        return
    for endpoint in listed.json().get("data", []):
        url = str(endpoint.get("url", ""))
        if urlsplit(url).path in INGEST_PATHS and url not in wanted:
            client.delete(f"{api_base}/v1/webhook_endpoints/{endpoint['id']}", headers=headers)


class StripeEmulator(LocalServer):
    """``python -m stripe_emulator`` on 127.0.0.1; ``port=None`` picks a free port."""

    name = "stripe-emulator"

    def __init__(
        self, state_dir: Path, port: int | None = DEFAULT_PORT, env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(state_dir, port)
        self.extra_env = dict(env or {})

    @property
    def state_file(self) -> Path:
        """Where the emulator keeps its state across restarts, beside the database's."""
        return self.state_dir / "stripe-emulator" / "state.pickle"

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        if not emulator_available():
            raise DevstackError("package stripe_emulator (with __main__) is not installed yet")
        env = {
            "STRIPE_EMULATOR_STATE_FILE": str(self.state_file),
            **os.environ,
            **self.extra_env,
            "STRIPE_EMULATOR_PORT": str(self.port),
            "PYTHONUNBUFFERED": "1",
        }
        return [sys.executable, "-m", "stripe_emulator"], env

    def wait_ready(self, timeout: float = 30.0) -> float:
        return wait_healthy(f"{self.api_base}/healthz", timeout, proc=self.process)
