"""The official Stripe SDK pointed at the emulator, as the tests use it to look at Stripe."""

from __future__ import annotations

import stripe


def emulator_sdk(api_base: str) -> stripe.StripeClient:
    """A client of the emulator at ``api_base``. It retries a request whose connection the
    emulator closed (an idle keep-alive connection, after a long clock step or under load:
    "Connection reset by peer"), as Stripe's SDK does for Stripe with network retries."""
    return stripe.StripeClient(
        "sk_test_emulator", base_addresses={"api": api_base}, max_network_retries=2
    )
