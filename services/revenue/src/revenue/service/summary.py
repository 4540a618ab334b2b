"""What the owner reads: the summary read from the rollups, MRR and its movements, and the
subscriptions' charging health."""

from __future__ import annotations

from datetime import date

from revenue.rules import FIRST_PAGE, WorkspacePage, from_unix, mrr_months
from revenue.schemas import Mrr, MrrMonthOut, SubscriptionCharging
from revenue.service.ports import ReadsRepository


class OwnerReads:
    """``Revenue``'s reads for the owner (a part of it: ``revenue.service.Revenue``)."""

    repository: ReadsRepository

    async def summary_json(
        self,
        agency_id: str,
        start: date,
        end: date,
        currency: str,
        page: WorkspacePage = FIRST_PAGE,
    ) -> str:
        """The summary (the shape of ``Summary``) as JSON text, built where the rollups are:
        an owner may have 10,000 workspaces, and building as many objects per request in
        Python is what its latency was made of."""
        return await self.repository.summary_json(agency_id, currency, start, end, page)

    async def charging_health(self, agency_id: str) -> list[SubscriptionCharging]:
        rows = await self.repository.charging_health(agency_id)
        return [
            SubscriptionCharging(
                subscription_id=row.subscription_id,
                workspace_id=row.workspace_id,
                status=row.status,
                stripe_product_id=row.stripe_product_id,
                last_paid_at=from_unix(row.last_paid_at) if row.last_paid_at else None,
                failing_since=from_unix(row.failing_since) if row.failing_since else None,
            )
            for row in rows
        ]

    async def mrr(
        self, agency_id: str, first: date, last: date, currency: str, workspace_id: str | None
    ) -> Mrr:
        """MRR at the end of each month from ``first`` to ``last`` and its movements."""
        histories = await self.repository.mrr_histories([agency_id], currency, workspace_id)
        months = mrr_months(histories.get(agency_id, []), first, last)
        return Mrr(
            currency=currency,
            arr_cents=months[-1].mrr_cents * 12 if months else 0,
            months=[
                MrrMonthOut(
                    month=f"{m.month.year:04d}-{m.month.month:02d}",  # (strftime: "96-04")
                    **{k: v for k, v in vars(m).items() if k != "month"},
                )
                for m in months
            ],
        )
