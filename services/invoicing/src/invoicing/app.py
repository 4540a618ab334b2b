"""Builds the invoicing app: HTTP API, the invoice mirror's subscribers, the SaaS-fee
collections and their retry runner, the requester of workspaces' customers, outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.invoicing_collections import COLLECTIONS
from billing_contracts.invoicing_invoices import INVOICES
from billing_kit.command_sweeper import run_sweeper
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from invoicing import api, consumers
from invoicing.models import kit_tables
from invoicing.saas_fees import api as saas_fees_api
from invoicing.saas_fees.service.retries import RetryRunner
from invoicing.saas_fees.stripe_gateway import CollectionsStripe
from invoicing.service import commands
from invoicing.service.customers import KafkaCustomers
from invoicing.settings import InvoicingSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or InvoicingSettings()
    runtime = Runtime(settings, kit_tables, publishes=(INVOICES, COLLECTIONS))
    consumers.register(runtime)
    if isinstance(settings, InvoicingSettings) and settings.retry_runner:
        _run_retries(runtime, settings)
    app = build_app(runtime, [api.router, saas_fees_api.router], title="invoicing")
    app.state.customers = KafkaCustomers(runtime)
    run_sweeper(runtime, commands.sweeper(runtime))
    return app


def _run_retries(runtime: Runtime, settings: InvoicingSettings) -> None:
    """The SaaS-fee retry runner lives as long as the service: it picks up unfinished
    retries at start, then polls (one database connection at a time)."""
    runner = RetryRunner(
        runtime.sessions, runtime.outbox, CollectionsStripe(runtime.stripe), settings
    )
    runtime.run_alongside("invoicing-retries", runner.run_forever)
