"""Builds the revenue app: owner API and dashboard, ledger subscribers, outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.revenue_ledger import LEDGER
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from revenue import api, consumers
from revenue.models import kit_tables
from revenue.settings import RevenueSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(settings or RevenueSettings(), kit_tables, publishes=(LEDGER,))
    consumers.register(runtime)
    return build_app(runtime, [api.router], title="revenue")
