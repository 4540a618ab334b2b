"""Builds the webhook-ingest app: Stripe webhook endpoints, replay, the agency replica
subscriber and the outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from webhook_ingest import api, consumers
from webhook_ingest.models import kit_tables
from webhook_ingest.normalize import PUBLISHED_TOPICS
from webhook_ingest.service import AgencyDirectory
from webhook_ingest.settings import WebhookIngestSettings
from webhook_ingest.stripe_gateway import IngestStripe
from webhook_ingest.verification import SignatureVerifier


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or WebhookIngestSettings()
    assert isinstance(settings, WebhookIngestSettings)
    runtime = Runtime(settings, kit_tables, publishes=PUBLISHED_TOPICS)
    agencies = AgencyDirectory()
    consumers.register(runtime, agencies)
    app = build_app(runtime, [api.router], title="webhook-ingest")
    tolerance = settings.signature_tolerance_seconds
    app.state.receiver = api.Receiver(
        runtime=runtime,
        verifiers={
            "platform": SignatureVerifier(settings.platform_secrets, tolerance),
            "connect": SignatureVerifier(settings.connect_secrets, tolerance),
        },
        agencies=agencies,
        stripe=IngestStripe(runtime.stripe),
        max_body_bytes=settings.max_body_bytes,
    )
    return app
