"""What a consumer waits out without limit (the infrastructure, Stripe away among it) and
what it counts as a bad message (retried a few times, then dead-lettered)."""

from __future__ import annotations

import pytest
import stripe
from sqlalchemy.exc import OperationalError

from billing_kit.errors import StripeFailedError, UnavailableError, ValidationFailedError
from billing_kit.inbox import is_transient
from billing_kit.stripe_client import stripe_failed


def _invalid(message: str, status: int) -> stripe.InvalidRequestError:
    return stripe.InvalidRequestError(message, None, http_status=status)  # type: ignore[no-untyped-call]


def _connection(message: str) -> stripe.APIConnectionError:
    return stripe.APIConnectionError(message, should_retry=True)  # type: ignore[no-untyped-call]


def _declined() -> stripe.CardError:
    return stripe.CardError("Your card was declined.", None, "card_declined", http_status=402)  # type: ignore[no-untyped-call]


def _raised_from(error: Exception, cause: Exception) -> Exception:
    try:
        raise error from cause
    except Exception as raised:
        return raised


@pytest.mark.parametrize(
    "error",
    [
        _connection("connection refused"),
        _connection("read timed out"),
        stripe.APIError("internal error", http_status=500),
        stripe.APIError("bad gateway", http_status=502),
        stripe.RateLimitError("too many requests", http_status=429),
        _invalid("lock timeout", 503),
        UnavailableError("Stripe is unavailable; deliver this event again."),
        _raised_from(
            stripe_failed(stripe.APIError("down", http_status=500)),
            stripe.APIError("down", http_status=500),
        ),
        OperationalError("SELECT 1", {}, ConnectionRefusedError()),
        ConnectionRefusedError("database is restarting"),
        TimeoutError(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_stripe_away_is_waited_out_like_the_database(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        _invalid("No such dispute: 'dp_x'", 404),
        _declined(),
        stripe.PermissionError("not allowed", http_status=403),
        stripe.AuthenticationError("bad key", http_status=401),
        _raised_from(
            stripe_failed(_invalid("no", 400)),
            _invalid("no", 400),
        ),
        StripeFailedError("refused"),
        ValidationFailedError("bad"),
        KeyError("charge"),
        ValueError("not a number"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_refusal_or_a_bug_is_the_message_s_fault(error: Exception) -> None:
    assert not is_transient(error)
