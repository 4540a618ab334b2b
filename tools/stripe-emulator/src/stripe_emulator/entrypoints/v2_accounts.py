"""Accounts v2 (`/v2/core/accounts`, JSON bodies): a v2 account is also a v1 connected account
with the same id, so `Stripe-Account`, account links and balances work for it unchanged; and,
as on Stripe, v2 retrieves and updates accounts made with v1 `accounts.create` too (adding the
`customer` configuration to an existing merchant, say)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from stripe_emulator.emulator import Emulator
from stripe_emulator.entrypoints.api import api_key
from stripe_emulator.errors import StripeError, resource_missing
from stripe_emulator.rules.accounts import emit_account_updated
from stripe_emulator.shapes.connect import account_shape
from stripe_emulator.store import Obj, Store, new_id, snapshot

DASHBOARD_TO_TYPE = {"full": "standard", "express": "express", "none": "custom"}
TYPE_TO_DASHBOARD = {type_: dashboard for dashboard, type_ in DASHBOARD_TO_TYPE.items()}


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def v2_view(store: Store, account: Obj) -> Obj:
    """The v2 shape of an account, derived from the v1 object and the v2 configuration."""
    hidden = store.hidden(account["id"])
    configuration: dict[str, Any] = snapshot(hidden.get("v2_configuration", {}))
    status = "active" if account["charges_enabled"] else "restricted"
    merchant = configuration.get("merchant")
    if isinstance(merchant, dict):
        capabilities = merchant.setdefault("capabilities", {})
        for name in list(capabilities) or ["card_payments"]:
            capabilities[name] = {"status": status, "status_details": []}
    customer = configuration.get("customer")
    if isinstance(customer, dict):
        capabilities = customer.setdefault("capabilities", {})
        capabilities["automatic_indirect_tax"] = {"status": "active", "status_details": []}
    return {
        "id": account["id"],
        "object": "v2.core.account",
        "applied_configurations": sorted(configuration),
        "closed": False,
        "configuration": configuration or None,
        "contact_email": account["email"],
        "contact_phone": None,
        "created": _iso(account["created"]),
        "dashboard": hidden.get("v2_dashboard", TYPE_TO_DASHBOARD.get(account["type"], "none")),
        "defaults": {"currency": account["default_currency"], "locales": ["en-US"]},
        "display_name": account["business_profile"]["name"],
        "future_requirements": None,
        "identity": {"country": account["country"].lower()},
        "livemode": False,
        "metadata": account["metadata"],
        "requirements": {
            "entries": [
                {"description": field, "awaiting_action_from": "user"}
                for field in account["requirements"]["currently_due"]
            ],
            "summary": None,
        },
    }


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _apply(account: Obj, hidden: dict[str, Any], body: dict[str, Any]) -> None:
    if "contact_email" in body:
        account["email"] = body["contact_email"]
    if "display_name" in body:
        account["business_profile"]["name"] = body["display_name"]
    if isinstance(body.get("metadata"), dict):
        merged = {**account["metadata"], **body["metadata"]}
        account["metadata"] = {k: str(v) for k, v in merged.items() if v not in (None, "")}
    configuration = body.get("configuration")
    if isinstance(configuration, dict):
        current = hidden.setdefault("v2_configuration", {})
        for name, value in configuration.items():
            if name in ("customer", "merchant", "recipient") and isinstance(value, dict):
                current[name] = {**current.get(name, {}), **value}


def v2_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(prefix="/v2/core/accounts", include_in_schema=False)
    store = emulator.store

    async def guarded(request: Request, work: Any) -> Response:
        if emulator.faults.latency_ms:
            await asyncio.sleep(emulator.faults.latency_ms / 1000)
        failure = emulator.faults.take_failure(request.method, request.url.path)
        if failure is not None:
            return _json(failure.status, failure.body())
        try:
            api_key(request)
            body = json.loads(await request.body() or b"{}") if request.method == "POST" else {}
            async with store.lock:
                return _json(200, work(body))
        except StripeError as error:
            return _json(error.status, error.body())

    def _get(account_id: str) -> Obj:
        account = store.connected_account(account_id)
        if account is None or account_id == store.platform_id:
            raise resource_missing("account", account_id)
        return account

    @router.post("")
    async def create(request: Request) -> Response:
        def work(body: dict[str, Any]) -> Obj:
            dashboard = body.get("dashboard", "none")
            identity = body.get("identity") or {}
            defaults = body.get("defaults") or {}
            account = account_shape(
                new_id("acct", 16),
                store.now(),
                DASHBOARD_TO_TYPE.get(dashboard, "custom"),
                str(identity.get("country", "us")).upper(),
                str(defaults.get("currency", "usd")).lower(),
            )
            hidden = store.hidden(account["id"])
            hidden["v2_dashboard"] = dashboard
            hidden["v2_configuration"] = {}
            _apply(account, hidden, body)
            store.add(account, store.platform_id)
            return v2_view(store, account)

        return await guarded(request, work)

    @router.get("")
    async def list_accounts(request: Request) -> Response:
        def work(_: dict[str, Any]) -> Obj:
            data = [
                v2_view(store, acct)
                for _, acct in reversed(store.all_of("account"))
                if "v2_configuration" in store.meta.get(acct["id"], {})
                and store.accessible(acct["id"])
            ]
            return {"data": data, "next_page_url": None, "previous_page_url": None}

        return await guarded(request, work)

    @router.get("/{account_id}")
    async def retrieve(request: Request, account_id: str) -> Response:
        return await guarded(request, lambda _: v2_view(store, _get(account_id)))

    @router.post("/{account_id}")
    async def update(request: Request, account_id: str) -> Response:
        def work(body: dict[str, Any]) -> Obj:
            account = _get(account_id)
            before = snapshot(account)
            _apply(account, store.hidden(account_id), body)
            emit_account_updated(store, account, before)
            return v2_view(store, account)

        return await guarded(request, work)

    return router
