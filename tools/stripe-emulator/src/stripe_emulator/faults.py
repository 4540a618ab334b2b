"""Switches for fault tests: duplicate/reorder deliveries, failing calls, latency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stripe_emulator.errors import StripeError

METHODS = frozenset({"GET", "POST", "DELETE"})
FAIL_NEXT_FIELDS = frozenset(
    {"count", "status", "path", "method", "code", "message", "param", "decline_code"}
)


class FaultSpecError(ValueError):
    """A `POST /_emulator/faults` body the emulator cannot arm."""


@dataclass
class ArmedFailure:
    """`count` API calls matching `method`/`path` (a prefix) fail with `status`."""

    count: int
    status: int = 500
    path: str | None = None
    method: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None
    decline_code: str | None = None

    @classmethod
    def parse(cls, spec: Any) -> ArmedFailure:
        if not isinstance(spec, dict):
            raise FaultSpecError("fail_next must be an object (or a list of objects)")
        unknown = set(spec) - FAIL_NEXT_FIELDS
        if unknown:
            raise FaultSpecError(f"unknown fail_next field(s): {', '.join(sorted(unknown))}")
        try:
            count, status = int(spec.get("count", 1)), int(spec.get("status", 500))
        except (TypeError, ValueError):
            raise FaultSpecError("fail_next count and status must be integers") from None
        if count < 0:
            raise FaultSpecError("fail_next count must be >= 0")
        if not 400 <= status <= 599:
            raise FaultSpecError("fail_next status must be a 4xx or 5xx code")
        path = spec.get("path")
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise FaultSpecError("fail_next path must be a string starting with '/'")
        method = spec.get("method")
        if method is not None:
            method = str(method).upper()
            if method not in METHODS:
                raise FaultSpecError(
                    f"fail_next method must be one of {', '.join(sorted(METHODS))}"
                )
        texts = {k: spec.get(k) for k in ("code", "message", "param", "decline_code")}
        for key, value in texts.items():
            if value is not None and not isinstance(value, str):
                raise FaultSpecError(f"fail_next {key} must be a string")
        return cls(count, status, path, method, **texts)

    def matches(self, method: str, path: str) -> bool:
        return (
            self.count > 0
            and (self.method is None or self.method == method.upper())
            and (self.path is None or path.startswith(self.path))
        )

    def error(self) -> StripeError:
        """The Stripe-shaped error this failure answers with."""
        if self.status == 429:
            return StripeError(
                self.message
                or "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                status=429,
                code=self.code or "rate_limit",
                param=self.param,
            )
        if self.status == 402:
            return StripeError(
                self.message or "Your card was declined.",
                status=402,
                type_="card_error",
                code=self.code or "card_declined",
                param=self.param,
                extra={"decline_code": self.decline_code or "generic_decline"},
            )
        if self.status < 500 and self.status != 409:
            return StripeError(
                self.message or "The request was refused (emulator fault).",
                status=self.status,
                code=self.code,
                param=self.param,
            )
        return StripeError(
            self.message or "An unknown error occurred",
            status=self.status,
            type_="api_error",
            code=self.code,
            param=self.param,
        )

    def view(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Faults:
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    fail_next: list[ArmedFailure] = field(default_factory=list)
    latency_ms: int = 0

    def view(self) -> dict[str, Any]:
        return {
            "duplicate_webhooks": self.duplicate_webhooks,
            "reorder_webhooks": self.reorder_webhooks,
            "fail_next": [f.view() for f in self.fail_next if f.count > 0],
            "latency_ms": self.latency_ms,
        }

    def update(self, body: dict[str, Any]) -> None:
        """Apply a `POST /_emulator/faults` body; nothing changes if any part is invalid."""
        fail = body.get("fail_next")
        armed = None
        if fail is not None:
            armed = [ArmedFailure.parse(f) for f in (fail if isinstance(fail, list) else [fail])]
        try:
            latency = None if "latency_ms" not in body else max(0, int(body["latency_ms"]))
        except (TypeError, ValueError):
            raise FaultSpecError("latency_ms must be an integer") from None
        if "duplicate_webhooks" in body:
            self.duplicate_webhooks = bool(body["duplicate_webhooks"])
        if "reorder_webhooks" in body:
            self.reorder_webhooks = bool(body["reorder_webhooks"])
        if armed is not None:
            self.fail_next = armed
        if latency is not None:
            self.latency_ms = latency

    def clear(self) -> None:
        self.__dict__.update(Faults().__dict__)

    def take_failure(self, method: str, path: str) -> StripeError | None:
        """The error to fail this API call with, if an armed failure matches it (consumed)."""
        for armed in self.fail_next:
            if armed.matches(method, path):
                armed.count -= 1
                return armed.error()
        return None
