"""Builds the subscriptions app: HTTP API (client subscriptions, the SaaS fees' plans),
catalog replicas, the Stripe status mirror, the customer request responder and the outbox
relay."""

from __future__ import annotations

from fastapi import FastAPI

from billing_contracts.subscriptions_agency_plans import AGENCY_PLANS
from billing_contracts.subscriptions_customers import CUSTOMERS
from billing_contracts.subscriptions_subscriptions import SUBSCRIPTIONS
from billing_contracts.subscriptions_workspaces import WORKSPACES
from billing_kit.command_sweeper import run_sweeper
from billing_kit.runtime import Runtime, build_app
from billing_kit.settings import ServiceSettings
from subscriptions import api, consumers
from subscriptions.models import kit_tables
from subscriptions.saas_fees import api as saas_fees_api
from subscriptions.saas_fees import service as saas_fees_service
from subscriptions.service import commands
from subscriptions.service.invoice_mirror import run_autopay
from subscriptions.settings import SubscriptionsSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    runtime = Runtime(
        settings or SubscriptionsSettings(),
        kit_tables,
        publishes=(WORKSPACES, CUSTOMERS, SUBSCRIPTIONS, AGENCY_PLANS),
    )
    consumers.register(runtime)
    run_sweeper(runtime, commands.sweeper(runtime, saas_fees_service.sweeps(runtime)))
    run_autopay(runtime)
    return build_app(runtime, [api.router, saas_fees_api.router], title="subscriptions")
