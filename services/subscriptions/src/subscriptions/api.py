"""subscriptions routes (workspaces and subscriptions are added here)."""

from __future__ import annotations

from fastapi import APIRouter

from billing_kit.idempotency import IdempotentRoute

router = APIRouter(prefix="/v1", route_class=IdempotentRoute, tags=["subscriptions"])
