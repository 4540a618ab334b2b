"""Builds the invoicing app: HTTP API, the invoice mirror's subscribers, the requester of
workspaces' customers, outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.invoicing_invoices import INVOICES
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from invoicing import api, consumers
from invoicing.customers import KafkaCustomers
from invoicing.models import kit_tables
from invoicing.settings import InvoicingSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(settings or InvoicingSettings(), kit_tables, publishes=(INVOICES,))
    consumers.register(runtime)
    app = build_app(runtime, [api.router], title="invoicing")
    app.state.customers = KafkaCustomers(runtime)
    return app
