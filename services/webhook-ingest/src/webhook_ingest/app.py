"""Builds the webhook-ingest app: Stripe webhook endpoints, replay, the agency replica
subscriber and the outbox relay."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from webhook_ingest import api, consumers
from webhook_ingest.models import kit_tables
from webhook_ingest.normalize import PUBLISHED_TOPICS
from webhook_ingest.settings import WebhookIngestSettings
from webhook_ingest.store import AgencyDirectory, EventStore
from webhook_ingest.stripe_gateway import IngestStripe
from webhook_ingest.verification import SignatureVerifier


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or WebhookIngestSettings()
    assert isinstance(settings, WebhookIngestSettings)
    runtime = Runtime(settings, kit_tables, publishes=PUBLISHED_TOPICS)
    agencies = AgencyDirectory()
    consumers.register(runtime, agencies)
    app = build_app(runtime, [api.router], title="webhook-ingest")
    store = EventStore(settings.database_url, runtime.outbox, agencies, settings.db_pool_size)
    tolerance = settings.signature_tolerance_seconds
    app.state.receiver = api.Receiver(
        store=store,
        stripe=IngestStripe(runtime.stripe),
        verifiers={
            "platform": SignatureVerifier(settings.platform_secrets, tolerance),
            "connect": SignatureVerifier(settings.connect_secrets, tolerance),
        },
        max_body_bytes=settings.max_body_bytes,
    )
    app.router.routes[0:0] = api.lean_webhook_routes()
    kit_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kit_lifespan(app):
            try:
                yield
            finally:
                await store.close()

    app.router.lifespan_context = lifespan
    return app
