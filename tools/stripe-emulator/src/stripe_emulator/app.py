"""Builds the FastAPI app: Stripe's `/v1` and `/v2` APIs, the `/_emulator` control API, hosted
pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from stripe_emulator.emulator import Emulator
from stripe_emulator.entrypoints.api import api_route
from stripe_emulator.entrypoints.control import control_router
from stripe_emulator.entrypoints.pages import pages_router
from stripe_emulator.entrypoints.v2_accounts import v2_router

# Importing the resource modules registers their routes.
from stripe_emulator.routes import (  # noqa: F401
    accounts,
    customers,
    events,
    invoice_items,
    invoices,
    payment_methods,
    payments,
    payouts,
    plans,
    products,
    refunds,
    subscription_items,
    subscription_schedules,
    subscriptions,
    webhook_endpoints,
)
from stripe_emulator.settings import Settings
from stripe_emulator.store import Store


class CountChanges:
    """Bumps the store's revision after every request that may have changed the state
    (anything but GET/HEAD), so the state file is written only when there is news."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            self.store.revision += 1


def create_app(settings: Settings | None = None) -> FastAPI:
    emulator = Emulator.create(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.webhooks.start()
        saver = asyncio.create_task(emulator.keep_saving())
        try:
            yield
        finally:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
            await emulator.save()
            await emulator.webhooks.stop()

    app = FastAPI(title="Stripe emulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.emulator = emulator

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # A plain Starlette route: Stripe's API needs none of FastAPI's parameter machinery.
    app.add_route("/v1/{rest:path}", api_route(emulator), methods=["GET", "POST", "DELETE"])
    app.include_router(control_router(emulator))
    app.include_router(pages_router(emulator))
    app.include_router(v2_router(emulator))
    app.add_middleware(CountChanges, store=emulator.store)
    return app
