"""The handle a fault test works with (the ``rig`` fixture)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import stripe

from billing_devstack import Infra, Stack
from tests.helpers.tokens import Tokens


@dataclass(frozen=True)
class Rig:
    """What a fault test works with: the stack it may disturb, a client per running service
    (by name, with ``urls`` their base URLs), the emulator over HTTP and through the SDK."""

    stack: Stack
    infra: Infra
    tokens: Tokens
    urls: dict[str, str]
    clients: dict[str, httpx.AsyncClient]
    emulator: httpx.AsyncClient
    sdk: stripe.StripeClient
