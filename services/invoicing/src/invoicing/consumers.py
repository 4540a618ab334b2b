"""invoicing's subscribers."""

from __future__ import annotations

from billing_kit.runtime import Runtime


def register(runtime: Runtime) -> None:
    """invoicing consumes no topic yet."""
