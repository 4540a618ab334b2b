"""Builds the FastAPI app: Stripe's `/v1` API, the `/_emulator` control API, hosted pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response

# Importing the resource modules registers their routes.
from stripe_emulator import (  # noqa: F401
    accounts,
    catalog,
    customers,
    events,
    invoice_items,
    invoices,
    payment_methods,
    payments,
    payouts,
    refunds,
    subscription_items,
    subscriptions,
    webhooks,
)
from stripe_emulator.api import handle_api
from stripe_emulator.faults import Faults
from stripe_emulator.settings import Settings
from stripe_emulator.store import Store
from stripe_emulator.webhooks import WebhookDispatcher


@dataclass
class Emulator:
    settings: Settings
    store: Store
    faults: Faults
    webhooks: WebhookDispatcher


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = Store()
    faults = Faults()
    emulator = Emulator(settings, store, faults, WebhookDispatcher(store, faults, settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await emulator.webhooks.start()
        try:
            yield
        finally:
            await emulator.webhooks.stop()

    app = FastAPI(title="Stripe emulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.emulator = emulator

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def stripe_api(request: Request) -> Response:
        return await handle_api(request, store, faults, settings.public_url)

    # A plain Starlette route: Stripe's API needs none of FastAPI's parameter machinery.
    app.add_route("/v1/{rest:path}", stripe_api, methods=["GET", "POST", "DELETE"])

    from stripe_emulator.control import control_router
    from stripe_emulator.pages import pages_router
    from stripe_emulator.v2_accounts import v2_router

    app.include_router(control_router(emulator))
    app.include_router(pages_router(emulator))
    app.include_router(v2_router(emulator))
    return app
