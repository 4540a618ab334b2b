"""Builds the webhook-ingest app."""

from __future__ import annotations

from fastapi import FastAPI

from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from webhook_ingest import api, consumers
from webhook_ingest.models import kit_tables
from webhook_ingest.settings import WebhookIngestSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(settings or WebhookIngestSettings(), kit_tables)
    consumers.register(runtime)
    return build_app(runtime, [api.router], title="webhook-ingest")
