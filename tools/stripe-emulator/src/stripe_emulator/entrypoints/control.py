"""`/_emulator/...`: the control API for development and tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stripe_emulator.emulator import Emulator
from stripe_emulator.errors import StripeError
from stripe_emulator.faults import FaultSpecError
from stripe_emulator.forms import parse_form
from stripe_emulator.rules.accounts import complete_onboarding, deauthorize
from stripe_emulator.rules.clock import advance
from stripe_emulator.rules.webhook_endpoints import register_endpoint
from stripe_emulator.store import Store


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return parse_form(raw.decode())
    data = await request.json()
    return data if isinstance(data, dict) else {}


def _error(error: StripeError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def control_router(emulator: Emulator) -> APIRouter:
    router = APIRouter(prefix="/_emulator", tags=["emulator control"])
    store = emulator.store

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        async with store.lock:
            emulator.reset()
        return {"reset": True, "platform_account": store.platform_id}

    @router.get("/clock")
    async def clock() -> dict[str, Any]:
        return {"now": store.now(), "offset_seconds": store.clock_offset}

    @router.post("/clock/advance")
    async def advance_clock(request: Request) -> dict[str, Any]:
        body = await _body(request)
        seconds = int(body.get("seconds", 0))
        if seconds < 0:
            return {"error": "seconds must be >= 0"}
        async with store.lock:
            now = advance(store, seconds)
        return {"now": now}

    async def on_account(
        change: Callable[[Store, str], dict[str, Any]], account_id: str
    ) -> dict[str, Any] | JSONResponse:
        """``change`` made to a connected account under the store's lock; a refusal as
        Stripe words it."""
        async with store.lock:
            try:
                return change(store, account_id)
            except StripeError as error:
                return _error(error)

    @router.post("/accounts/{account_id}/complete_onboarding", response_model=None)
    async def onboarding(account_id: str) -> dict[str, Any] | JSONResponse:
        return await on_account(complete_onboarding, account_id)

    @router.post("/accounts/{account_id}/deauthorize", response_model=None)
    async def revoke_access(account_id: str) -> dict[str, Any] | JSONResponse:
        return await on_account(deauthorize, account_id)

    @router.post("/webhook_endpoints", response_model=None)
    async def webhook_endpoint(request: Request) -> dict[str, Any] | JSONResponse:
        body = await _body(request)
        url = body.get("url")
        if not isinstance(url, str) or not url:
            return _error(StripeError("Missing required param: url.", param="url"))
        connect = body.get("connect") in (True, "true", "1", 1)
        events = body.get("enabled_events") or ["*"]
        async with store.lock:
            endpoint = register_endpoint(
                store,
                url,
                connect=connect,
                secret=body.get("secret"),
                events=list(events),
                reuse=True,
            )
            secret = store.hidden(endpoint["id"])["secret"]
        return {**endpoint, "secret": secret, "connect": connect}

    @router.get("/faults")
    async def faults() -> dict[str, Any]:
        return emulator.faults.view()

    @router.post("/faults", response_model=None)
    async def set_faults(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            emulator.faults.update(await _body(request))
        except FaultSpecError as error:
            return _error(StripeError(str(error), param="fail_next"))
        return emulator.faults.view()

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        emulator.faults.clear()
        return emulator.faults.view()

    @router.get("/settings")
    async def settings() -> dict[str, Any]:
        return dict(store.settings)

    @router.post("/settings")
    async def set_settings(request: Request) -> dict[str, Any]:
        body = await _body(request)
        for name in ("subscription_failed_payment_action", "send_invoice_past_due_action"):
            if body.get(name) in ("cancel", "unpaid", "past_due"):
                store.settings[name] = body[name]
        days = body.get("send_invoice_past_due_days")
        if isinstance(days, int) and days >= 0:
            store.settings["send_invoice_past_due_days"] = days
        return dict(store.settings)

    @router.get("/webhook_deliveries")
    async def deliveries() -> dict[str, Any]:
        return {
            "pending": emulator.webhooks.queue.qsize(),
            "attempts": list(emulator.webhooks.delivered)[-1000:],
        }

    @router.get("/requests")
    async def requests(account: str | None = None) -> dict[str, int]:
        """API calls answered since the last reset (of ``account`` only, when given), by
        method and handler: ``{"GET retrieve_charge": 2, ...}``."""
        counts: dict[str, int] = {}
        for (acting, call), count in list(store.served.items()):
            if account is None or acting == account:
                counts[call] = counts.get(call, 0) + count
        return counts

    @router.get("/platform")
    async def platform() -> dict[str, Any]:
        return {"account": store.platform_id}

    return router
