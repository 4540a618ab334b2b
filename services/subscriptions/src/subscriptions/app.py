"""Builds the subscriptions app."""

from __future__ import annotations

from fastapi import FastAPI

from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from subscriptions import api, consumers
from subscriptions.models import kit_tables
from subscriptions.settings import SubscriptionsSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(settings or SubscriptionsSettings(), kit_tables)
    consumers.register(runtime)
    return build_app(runtime, [api.router], title="subscriptions")
