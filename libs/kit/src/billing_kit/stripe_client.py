"""The one way services talk to Stripe: the official SDK's async client, pointed at
``STRIPE_API_BASE`` (Stripe itself or the emulator), with bounded network retries."""

from __future__ import annotations

import stripe

from billing_kit.errors import StripeFailedError


def stripe_client(
    api_key: str, api_base: str, *, max_network_retries: int = 3
) -> stripe.StripeClient:
    # The SDK retries 409/429/5xx and connection errors with backoff, reusing the idempotency
    # key, so a retried create cannot make a second object.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base, "connect": api_base, "files": api_base},
        max_network_retries=max_network_retries,
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )


def stripe_failed(exc: stripe.StripeError) -> StripeFailedError:
    detail = exc.user_message or str(exc) or type(exc).__name__
    return StripeFailedError(f"Stripe refused or failed the request: {detail}")
