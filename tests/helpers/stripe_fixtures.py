"""Stripe's own example objects (``vendor/stripe-mock/fixtures3.json``, MIT): the reference
for the shape of what the emulator returns and what the tests feed to the services."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES_PATH = Path(__file__).resolve().parents[2] / "vendor" / "stripe-mock" / "fixtures3.json"


@cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES_PATH.read_text())["resources"]
    return resources


def stripe_resources() -> dict[str, Any]:
    """Every example object by resource name (a fresh copy: callers may change it)."""
    return copy.deepcopy(_resources())


def stripe_fixture(kind: str, **overrides: Any) -> dict[str, Any]:
    """A copy of Stripe's example ``kind`` object with ``overrides`` applied."""
    obj: dict[str, Any] = copy.deepcopy(_resources()[kind])
    obj.update(overrides)
    return obj
