"""Builds the catalog app: HTTP API, account-update subscriber, outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_kit.command_sweeper import run_sweeper
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from catalog import api, consumers
from catalog.models import kit_tables
from catalog.service import commands
from catalog.settings import CatalogSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(settings or CatalogSettings(), kit_tables, publishes=(PRODUCTS, AGENCIES))
    consumers.register(runtime)
    run_sweeper(runtime, commands.sweeper(runtime))
    return build_app(runtime, [api.router], title="catalog")
