"""The platform overview's models."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from revenue.schemas import ReconciliationStatus


class PlatformReconciliation(BaseModel):
    status: ReconciliationStatus
    """Every connected account's last check read as one (as ``Reconciliation.status``)."""
    accounts_mismatched: int
    """Accounts whose last check did not find the ledger equal to Stripe (healing or
    mismatch)."""


class AgencyOverview(BaseModel):
    agency_id: str
    gmv_cents: int
    """What its clients paid in the days: its own summary's ``gross_cents``."""
    platform_fees_cents: int
    """The platform's fees on its clients' payments in the days, less those refunded: its
    own summary's ``platform_fee_cents``."""
    mrr_cents: int
    """Its clients' MRR at the end of the period (as ``/v1/revenue/mrr`` counts it)."""
    client_workspaces: int
    decline_rate: float | None
    """Of its client invoices first charged in the days, the share whose charging failed at
    least once (0 to 1); null when none was charged."""
    dispute_rate: float | None
    """Disputes opened in the days per charge in the days; null when nothing was charged."""
    saas_plan_status: str | None
    """The status of the platform's SaaS-fee plan for it (Stripe's subscription status);
    null without a plan."""
    balance_covers_next_fee: bool | None
    """Whether its available Stripe balance covers its next SaaS fee (its open SaaS-fee
    invoices when it has any, else its plan's amount): the balance Stripe last told
    (``balance.available``) less the payouts and SaaS fees paid from it since; null without
    a plan, once the plan ended, or before Stripe told its balance."""
    reconciliation: ReconciliationStatus


class PlatformOverview(BaseModel):
    """The platform's business over the UTC days from ``period_from`` to ``period_to``."""

    currency: str
    period_from: date
    period_to: date
    gmv_cents: int
    """What every agency's clients paid in the days (the sum of the agencies' summaries'
    ``gross_cents``)."""
    platform_fees_cents: int
    """The platform's fees earned in the days, less those refunded: equal to the platform
    account's ``application_fee`` less ``application_fee_refund`` balance transactions."""
    saas_mrr_cents: int
    """What the agencies' SaaS-fee plans bring in per month now (``active`` or
    ``past_due``; a yearly plan as a twelfth)."""
    saas_collected_cents: int
    """SaaS fees paid from agencies' balances in the days (by Stripe's ``paid_at``; for a
    collection announced before it was carried, when it was announced paid)."""
    saas_failing_cents: int
    """SaaS fees open now after a failed attempt."""
    reconciliation: PlatformReconciliation
    agencies: list[AgencyOverview]
    """A page of the agencies in id order (the totals count them all)."""
    agencies_next: str | None = None
    """More agencies than listed: pass this as ``agencies_after`` for the next page; null on
    the last page."""
