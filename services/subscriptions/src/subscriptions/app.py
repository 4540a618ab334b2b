"""Builds the subscriptions app: HTTP API, catalog replicas, the Stripe status mirror, the
customer request responder and the outbox relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.subscriptions_customers import CUSTOMERS
from billing_contracts.subscriptions_subscriptions import SUBSCRIPTIONS
from billing_contracts.subscriptions_workspaces import WORKSPACES
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from subscriptions import api, consumers
from subscriptions.models import kit_tables
from subscriptions.settings import SubscriptionsSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(
        settings or SubscriptionsSettings(),
        kit_tables,
        publishes=(WORKSPACES, CUSTOMERS, SUBSCRIPTIONS),
    )
    consumers.register(runtime)
    return build_app(runtime, [api.router], title="subscriptions")
