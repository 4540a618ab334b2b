"""The one way services talk to Stripe: the official SDK's async client, pointed at
``STRIPE_API_BASE`` (Stripe itself or the emulator), with bounded network retries.

The SDK speaks HTTP through aiohttp: a read from Stripe cost webhook-ingest about three times
the CPU through httpx (httpcore, anyio and an import attempt on every request were 60 % of
a read's samples, ``bench/profile_pipeline.py``, 2026-12-06).

``call_stripe`` wraps a call: Stripe's refusals and outages become the kit's
``StripeFailedError`` (Stripe's error kept as its cause, which tells an outage from a
refusal), and what a caller counts as "nothing there" answers None."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar, overload

import stripe

from billing_kit.errors import StripeFailedError

T = TypeVar("T")


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


def account_gone(exc: stripe.StripeError) -> bool:
    """Stripe refuses the connected account: deleted, or the platform's access revoked (and
    with it whatever we made on it)."""
    return isinstance(exc, stripe.PermissionError)


@overload
async def call_stripe(call: Awaitable[T]) -> T: ...


@overload
async def call_stripe(
    call: Awaitable[T],
    *,
    none_when: Callable[[stripe.StripeError], bool],
    as_failure: bool = True,
) -> T | None: ...


async def call_stripe(
    call: Awaitable[T],
    *,
    none_when: Callable[[stripe.StripeError], bool] | None = None,
    as_failure: bool = True,
) -> T | None:
    """Await a call to Stripe (or a coroutine of several): a Stripe error raises
    ``StripeFailedError`` with Stripe's message for the caller; ``as_failure=False`` raises
    it as Stripe did, for a caller that waits Stripe out. An error ``none_when`` accepts
    means Stripe has nothing there: the answer is None."""
    try:
        return await call
    except stripe.StripeError as exc:
        if none_when is not None and none_when(exc):
            return None
        if as_failure:
            raise stripe_failed(exc) from exc
        raise


def latest_invoice(sub: stripe.Subscription) -> tuple[str | None, stripe.Invoice | None]:
    """The subscription's latest invoice: its id, and the invoice itself when expanded."""
    invoice = sub.latest_invoice
    if isinstance(invoice, stripe.Invoice):
        return invoice.id, invoice
    return (invoice if isinstance(invoice, str) else None), None
