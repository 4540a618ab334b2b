"""Stripe-shaped errors: each knows its HTTP status and renders Stripe's error body."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answered as `{"error": {type, code, message, param}}`."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self, request_log_url: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if request_log_url:
            error["request_log_url"] = request_log_url
        error.update(self.extra)
        return {"error": error}


def resource_missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


def invalid_param(param: str, message: str) -> StripeError:
    return StripeError(message, code="parameter_invalid", param=param)


def missing_param(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown_param(param: str) -> StripeError:
    return StripeError(
        f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


MAX_AMOUNT = 99_999_999
"""Stripe's technical cap on amounts: eight digits in the minor unit ($999,999.99)."""

ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv"}
    | {"xaf", "xof", "xpf"}
)


def integer_too_large(param: str, maximum: int = MAX_AMOUNT) -> StripeError:
    """An integer parameter above its allowed maximum (e.g. a price's `unit_amount`)."""
    return StripeError(
        f"Invalid integer: must be at most {maximum}", code="parameter_invalid_integer", param=param
    )


def amount_too_large(param: str, currency: str) -> StripeError:
    """A charge-like `amount` above Stripe's eight-digit cap ("no more than $999,999.99")."""
    currency = currency.lower()
    zero_decimal = currency in ZERO_DECIMAL
    shown = f"{MAX_AMOUNT:,}" if zero_decimal else f"{MAX_AMOUNT / 100:,.2f}"
    shown = f"${shown}" if currency == "usd" else f"{shown} {currency}"
    return StripeError(f"Amount must be no more than {shown}", code="amount_too_large", param=param)


def card_declined(decline_code: str, message: str, extra: dict[str, Any]) -> StripeError:
    return StripeError(
        message,
        status=402,
        type_="card_error",
        code="card_declined",
        extra={"decline_code": decline_code, **extra},
    )
