"""Builds the webhook-ingest app: Stripe webhook endpoints (the fast lane), replay, the agency
replica subscriber, the enricher and the outbox relay."""

from __future__ import annotations

from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from webhook_ingest import api, consumers
from webhook_ingest.api.fast_lane import IngestApp
from webhook_ingest.models import kit_tables
from webhook_ingest.replicas import AgencyDirectory
from webhook_ingest.repository.store import EventStore
from webhook_ingest.rules.normalize import PUBLISHED_TOPICS
from webhook_ingest.service.enrichment import Enricher
from webhook_ingest.settings import WebhookIngestSettings
from webhook_ingest.stripe_gateway import IngestStripe


def create_app(settings: ServiceSettings | None = None) -> IngestApp:
    settings = settings or WebhookIngestSettings()
    assert isinstance(settings, WebhookIngestSettings)
    runtime = Runtime(settings, kit_tables, publishes=PUBLISHED_TOPICS)
    agencies = AgencyDirectory()
    consumers.register(runtime, agencies)
    app = build_app(runtime, [api.router], title="webhook-ingest")
    api.document_webhooks(app)
    store = EventStore(settings.database_url, runtime.outbox, agencies, settings.db_pool_size)
    runtime.on_shutdown(store.close)
    stripe = IngestStripe(runtime.stripe)
    app.state.receiver = receiver = api.Receiver.build(settings, store, stripe)
    Enricher(store, stripe, runtime.outbox, retry_cap=settings.enrichment_retry_cap_seconds).attach(
        app
    )
    return IngestApp(app, receiver, settings.service_name)
