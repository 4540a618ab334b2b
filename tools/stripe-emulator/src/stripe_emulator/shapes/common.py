"""Pieces many objects share: an empty address, an empty list, webhook endpoints."""

from __future__ import annotations

from typing import Any

from stripe_emulator.store import Obj


def null_address() -> dict[str, Any]:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def empty_billing_details() -> dict[str, Any]:
    return {"address": null_address(), "email": None, "name": None, "phone": None, "tax_id": None}


def empty_list(url: str) -> dict[str, Any]:
    return {"object": "list", "data": [], "has_more": False, "url": url}


def webhook_endpoint_shape(we_id: str, created: int, url: str, events: list[str]) -> Obj:
    return {
        "id": we_id,
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": created,
        "description": None,
        "enabled_events": events,
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": url,
    }
