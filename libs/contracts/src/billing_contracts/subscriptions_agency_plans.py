"""``subscriptions.agency_plans.v1`` — the platform's SaaS-fee plan of each agency.

Published by subscriptions; key = agency id (an agency has one plan at a time, so its events
stay in order).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class AgencyPlanSnapshot(Payload):
    """The agency's plan after the change: what the platform charges it and how."""

    agency_plan_id: str
    agency_id: str
    plan_id: str
    plan_name: str
    amount_cents: int
    currency: str
    interval: Literal["month", "year"]
    status: str
    """The Stripe subscription's status (``incomplete``, ``active``, ``past_due``, ...)."""
    stripe_account_id: str
    """The agency's connected account: the subscription's ``customer_account``."""
    stripe_subscription_id: str
    stripe_payment_method_id: str
    """The ``stripe_balance`` payment method the plan is paid with."""
    billing_cycle_anchor: int
    """Unix seconds: the plan bills on this day of each month (or year)."""
    latest_invoice_id: str | None = None
    created_at: datetime


class _AgencyPlanEvent(Event):
    payload: AgencyPlanSnapshot
    aggregate_field: ClassVar[str] = "agency_id"


class AgencyPlanStarted(_AgencyPlanEvent):
    """The platform put an agency on a plan, paid from the agency's Stripe balance."""

    type: Literal["agency_plan.started"] = "agency_plan.started"


class AgencyPlanStatusChanged(_AgencyPlanEvent):
    """Stripe moved the plan's subscription to another status."""

    type: Literal["agency_plan.status_changed"] = "agency_plan.status_changed"


AGENCY_PLANS = Topic(
    name="subscriptions.agency_plans.v1",
    description="The platform's SaaS-fee plan of each agency (paid from its Stripe balance). "
    "Key: agency id.",
    events=(AgencyPlanStarted, AgencyPlanStatusChanged),
)
