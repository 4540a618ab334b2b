"""The back-office's rules: what revenue keeps of the platform's SaaS-fee plans, collections
and the accounts' balances (a later announcement wins, whatever order they come in), and the
platform's overview over some days.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_balances import StripeBalanceSnapshot
from billing_contracts.invoicing_collections import CollectionSnapshot
from billing_contracts.subscriptions_agency_plans import AgencyPlanSnapshot
from revenue import repository as revenue_repository
from revenue.back_office import repository
from revenue.back_office.models import AccountBalance, AgencyPlanFacts, SaasCollection
from revenue.back_office.schemas import AgencyOverview, PlatformOverview, PlatformReconciliation
from revenue.rules import MRR_STATUSES, AgencyPage, from_day, monthly_cents


@dataclass
class BackOffice:
    session: AsyncSession

    async def apply_agency_plan(self, plan: AgencyPlanSnapshot, told_at: datetime) -> None:
        """An agency's SaaS-fee plan as subscriptions announced it (a later one wins)."""
        await repository.remember_agency_plan(
            self.session,
            AgencyPlanFacts(
                agency_id=plan.agency_id, agency_plan_id=plan.agency_plan_id,
                plan_name=plan.plan_name, amount_cents=plan.amount_cents,
                currency=plan.currency, interval=plan.interval, status=plan.status,
                stripe_account_id=plan.stripe_account_id, told_at=told_at,
            ),
        )  # fmt: skip

    async def apply_collection(self, collection: CollectionSnapshot, told_at: datetime) -> None:
        """A SaaS-fee collection as invoicing announced it (a later one wins)."""
        await repository.remember_collection(
            self.session,
            SaasCollection(
                invoice_id=collection.invoice_id, agency_id=collection.agency_id,
                amount_due_cents=collection.amount_due_cents, currency=collection.currency,
                status=collection.status, attempt_count=collection.attempt_count,
                paid_at=collection.paid_at, told_at=told_at,
            ),
        )  # fmt: skip

    async def apply_balance(self, balance: StripeBalanceSnapshot) -> None:
        """A connected account's available balance as Stripe told it (a later one wins)."""
        if balance.stripe_account_id is None:
            return  # the platform's own balance is not an agency's
        await repository.remember_balances(
            self.session,
            [
                AccountBalance(
                    stripe_account_id=balance.stripe_account_id, currency=amount.currency,
                    available_cents=amount.amount, told_at=balance.stripe_created,
                )
                for amount in balance.available
            ],
        )  # fmt: skip

    async def overview(
        self, currency: str, start: date, end: date, page: AgencyPage
    ) -> PlatformOverview:
        """The platform's figures over the days, with a page of its agencies."""
        totals = await repository.platform_totals(self.session, currency, start, end)
        plans = await repository.saas_plans(self.session, currency)
        ids = await repository.agencies_after(self.session, page.after, page.limit)
        listed = ids[: page.limit]
        rows = await repository.agency_rows(self.session, listed, currency, start, end)
        histories = await revenue_repository.mrr_histories(self.session, listed, currency, None)
        end_moment = int(from_day(end).timestamp()) + 86_400
        return PlatformOverview(
            currency=currency,
            period_from=start,
            period_to=end,
            gmv_cents=int(totals["gmv_cents"]),
            platform_fees_cents=int(totals["platform_fees_cents"]),
            saas_mrr_cents=sum(
                monthly_cents([(p.amount_cents, 1, p.interval, 1)])
                for p in plans
                if p.status in MRR_STATUSES
            ),
            saas_collected_cents=int(totals["saas_collected_cents"]),
            saas_failing_cents=int(totals["saas_failing_cents"]),
            reconciliation=PlatformReconciliation(
                status=totals["status"], accounts_mismatched=int(totals["accounts_mismatched"])
            ),
            agencies=[
                _agency_overview(
                    rows[agency],
                    sum(h.contribution(end_moment) for h in histories.get(agency, [])),
                )
                for agency in listed
            ],
            agencies_next=listed[-1] if len(ids) > page.limit else None,
        )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _agency_overview(row: dict[str, Any], mrr_cents: int) -> AgencyOverview:
    fee, available = row["saas_fee_cents"], row["available_cents"]
    return AgencyOverview(
        agency_id=row["agency_id"],
        gmv_cents=row["gmv_cents"],
        platform_fees_cents=row["platform_fees_cents"],
        mrr_cents=mrr_cents,
        client_workspaces=row["client_workspaces"],
        decline_rate=_rate(row["declined"], row["invoices"]),
        dispute_rate=_rate(row["disputes"], row["charges"]),
        saas_plan_status=row["saas_plan_status"],
        balance_covers_next_fee=None if fee is None or available is None else available >= fee,
        reconciliation=row["reconciliation"],
    )
