"""webhook-ingest's subscribers."""

from __future__ import annotations

from billing_kit.runtime import Runtime


def register(runtime: Runtime) -> None:
    """webhook-ingest consumes no topic yet."""
