"""Builds the revenue app: owner API and dashboard, the operator's back-office, ledger
subscribers, outbox relay, and the scheduled reconciliation with Stripe."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.revenue_ledger import LEDGER
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from revenue import api, consumers
from revenue.back_office import api as back_office_api
from revenue.models import kit_tables
from revenue.service.reconciler import Reconciler
from revenue.settings import RevenueSettings
from revenue.stripe_gateway import RevenueStripe


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or RevenueSettings()
    runtime = Runtime(settings, kit_tables, publishes=(LEDGER,))
    consumers.register(runtime)
    if isinstance(settings, RevenueSettings) and settings.reconciler:
        _reconcile(runtime, settings)
    return build_app(runtime, [api.router, back_office_api.router], title="revenue")


def _reconcile(runtime: Runtime, settings: RevenueSettings) -> None:
    """The reconciliation lives as long as the service, from once its consumers run."""
    reconciler = Reconciler(
        runtime.sessions,
        runtime.outbox,
        RevenueStripe(runtime.stripe),
        service=settings.consumer_group_prefix or settings.service_name,
        every=settings.reconcile_interval,
        retry=settings.reconcile_retry_seconds,
        settle=settings.reconcile_settle,
        lookback_days=settings.reconcile_lookback_days,
    )
    runtime.run_alongside("revenue-reconciler", reconciler.run_forever)
