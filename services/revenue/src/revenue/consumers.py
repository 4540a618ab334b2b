"""revenue's subscribers."""

from __future__ import annotations

from billing_kit.runtime import Runtime


def register(runtime: Runtime) -> None:
    """revenue consumes no topic yet."""
