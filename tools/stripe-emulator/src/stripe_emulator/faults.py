"""Switches for fault tests: duplicate/reorder deliveries, failing calls, latency."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Faults:
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    fail_next_count: int = 0
    fail_next_status: int = 500
    latency_ms: int = 0

    def view(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, body: dict[str, Any]) -> None:
        if "duplicate_webhooks" in body:
            self.duplicate_webhooks = bool(body["duplicate_webhooks"])
        if "reorder_webhooks" in body:
            self.reorder_webhooks = bool(body["reorder_webhooks"])
        fail = body.get("fail_next")
        if isinstance(fail, dict):
            self.fail_next_count = int(fail.get("count", 1))
            self.fail_next_status = int(fail.get("status", 500))
        if "latency_ms" in body:
            self.latency_ms = max(0, int(body["latency_ms"]))

    def clear(self) -> None:
        self.__dict__.update(Faults().__dict__)

    def take_failure(self) -> int | None:
        """The status to fail the current API call with, if a failure is armed."""
        if self.fail_next_count <= 0:
            return None
        self.fail_next_count -= 1
        return self.fail_next_status
