"""The one way services talk to Stripe: the official SDK's async client, pointed at
``STRIPE_API_BASE`` (Stripe itself or the emulator), with bounded network retries.

The SDK speaks HTTP through aiohttp: a read from Stripe cost webhook-ingest about three times
the CPU through httpx (httpcore, anyio and an import attempt on every request were 60 % of
a read's samples, ``bench/profile_pipeline.py``, 2026-12-06)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import stripe

from billing_kit.errors import StripeFailedError


class StripeConnection:
    """The SDK's client and the HTTP connection pool it owns, closed together."""

    def __init__(self, api_key: str, api_base: str, *, max_network_retries: int = 3) -> None:
        self.http = stripe.AIOHTTPClient()
        # The SDK retries 409/429/5xx and connection errors with backoff, reusing the
        # idempotency key, so a retried create cannot make a second object.
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base, "connect": api_base, "files": api_base},
            max_network_retries=max_network_retries,
            http_client=self.http,
        )

    async def close(self) -> None:
        await self.http.close_async()  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def stripe_client(
    api_key: str, api_base: str, *, max_network_retries: int = 3
) -> AsyncIterator[stripe.StripeClient]:
    """A client for one command's run, its connections closed at the end."""
    connection = StripeConnection(api_key, api_base, max_network_retries=max_network_retries)
    try:
        yield connection.client
    finally:
        await connection.close()


def stripe_failed(exc: stripe.StripeError) -> StripeFailedError:
    detail = exc.user_message or str(exc) or type(exc).__name__
    return StripeFailedError(f"Stripe refused or failed the request: {detail}")
