"""One way to call Stripe: its errors become ``StripeFailedError`` with Stripe's message (the
Stripe error kept as the cause), unless the caller says which mean there is nothing there or
waits Stripe out itself."""

from __future__ import annotations

import pytest
import stripe

from billing_kit.errors import StripeFailedError
from billing_kit.stripe_client import account_gone, call_stripe

pytestmark = pytest.mark.unit


async def _answer(value: str) -> str:
    return value


async def _refuse(exc: stripe.StripeError) -> str:
    raise exc


async def test_an_answer_passes_through() -> None:
    assert await call_stripe(_answer("cus_1")) == "cus_1"
    assert await call_stripe(_answer("cus_1"), none_when=account_gone) == "cus_1"


async def test_a_stripe_error_fails_with_stripe_s_message_and_keeps_the_cause() -> None:
    refusal = stripe.InvalidRequestError("No such price", param="price")  # type: ignore[no-untyped-call]
    with pytest.raises(StripeFailedError, match="No such price") as failed:
        await call_stripe(_refuse(refusal))
    assert failed.value.__cause__ is refusal


async def test_an_error_that_means_nothing_is_there_answers_none() -> None:
    gone = stripe.PermissionError("The account is gone")
    assert await call_stripe(_refuse(gone), none_when=account_gone) is None
    away = stripe.APIConnectionError("away")  # type: ignore[no-untyped-call]
    with pytest.raises(StripeFailedError):
        await call_stripe(_refuse(away), none_when=account_gone)


async def test_a_caller_that_waits_stripe_out_gets_stripe_s_own_error() -> None:
    away = stripe.APIConnectionError("away")  # type: ignore[no-untyped-call]
    with pytest.raises(stripe.APIConnectionError):
        await call_stripe(_refuse(away), none_when=account_gone, as_failure=False)
