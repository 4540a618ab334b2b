"""Response models of the SaaS-fee collections API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class RetryOut(BaseModel):
    id: str
    invoice_id: str
    state: str
    """``payouts_paused``, ``waiting_for_funds``, ``paying``, ``restoring_payouts``,
    ``succeeded`` or ``failed``."""
    started_at: datetime
    updated_at: datetime
    available_cents: int | None
    """The available balance at the last check."""
    outcome: str | None
    failure_reason: str | None
    previous_payout_schedule: dict[str, Any] | None


class AgencyCollectionOut(BaseModel):
    invoice_id: str
    agency_id: str | None
    stripe_invoice_id: str
    amount_due_cents: int
    currency: str
    status: str
    failure_code: str | None
    attempt_count: int
    next_automatic_retry_at: datetime | None


class CollectionOut(AgencyCollectionOut):
    retry: RetryOut | None


class CollectionList(BaseModel):
    data: list[CollectionOut]


class AgencyPlanOut(BaseModel):
    id: str
    plan_id: str
    name: str
    amount_cents: int
    currency: str
    interval: str
    status: str
    stripe_subscription_id: str
    billing_cycle_anchor: datetime


class AdviceOut(BaseModel):
    code: str
    message: str


class PlatformBilling(BaseModel):
    plan: AgencyPlanOut | None
    invoices: list[AgencyCollectionOut]
    payout_advice: list[AdviceOut]
