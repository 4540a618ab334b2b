"""revenue routes (owner only): the summary, MRR, payouts, charging health and the dashboard
page (drawn by ``revenue.api.pages``). The platform operator's are in
``revenue.back_office``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from billing_kit.auth import Owner
from billing_kit.db import DbSession
from billing_kit.errors import (
    FieldError,
    ForbiddenError,
    NotFoundError,
    ValidationFailedError,
    documented,
)
from revenue.api.pages import render_dashboard
from revenue.rules import WORKSPACES_MAX, WORKSPACES_PAGE, WorkspacePage, bounded, period
from revenue.schemas import Currency, Mrr, PayoutDetail, PayoutList, SubscriptionList, Summary
from revenue.service import Revenue

router = APIRouter(prefix="/v1/revenue", tags=["revenue"])


def _revenue(request: Request, session: DbSession) -> Revenue:
    return Revenue.build(request.app.state.runtime, session)


RevenueService = Annotated[Revenue, Depends(_revenue)]


async def _summary(
    principal: Owner,
    revenue: RevenueService,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    currency: Currency = "usd",
    workspaces_limit: Annotated[int, Query(ge=1, le=WORKSPACES_MAX)] = WORKSPACES_PAGE,
    workspaces_after: Annotated[str | None, Query(max_length=100)] = None,
) -> str:
    first, last = period(start, end)
    page = WorkspacePage(limit=workspaces_limit, after=workspaces_after)
    return await revenue.summary_json(principal.require_agency(), first, last, currency, page)


OwnerSummary = Annotated[str, Depends(_summary)]
"""The summary as JSON text (the shape of ``Summary``)."""


@router.get(
    "/summary",
    response_model=Summary,
    responses=documented(ForbiddenError, ValidationFailedError),
)
async def get_summary(summary: OwnerSummary) -> Response:
    """Gross, fees, refunds, disputes and net over the UTC days from ``from`` to ``to``
    inclusive (this calendar year by default), per month and per workspace. Totals and
    months count every workspace; ``workspaces`` lists a page of them in id order (1,000
    unless ``workspaces_limit`` says up to 10,000); ``workspaces_next``, when not null, is
    the ``workspaces_after`` that asks for the next page."""
    # Postgres wrote the JSON (the shape is ``Summary``): building and validating 10,000
    # workspaces again on the way out would cost more than reading them.
    return Response(summary.encode(), media_type="application/json")


Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


def _month(value: str, field: str = "month") -> date:
    """``YYYY-MM`` as its first day; a year the calendar cannot go past (0 or 9999) is a
    validation error naming ``field``."""
    year = int(value[:4])
    if not 1 <= year <= 9998:
        raise ValidationFailedError(
            "No such month.",
            fields=[FieldError(field=field, message="must be a month of the years 0001 to 9998")],
        )
    return date(year, int(value[5:7]), 1)


def _months_before(month: date, count: int) -> date:
    """The month ``count`` months before ``month`` (January of year 1 at the earliest)."""
    year, index = divmod(month.year * 12 + month.month - 1 - count, 12)
    return date(year, index + 1, 1) if year >= 1 else date(1, 1, 1)


@router.get(
    "/mrr",
    response_model=Mrr,
    responses=documented(ForbiddenError, ValidationFailedError),
)
async def get_mrr(
    principal: Owner,
    revenue: RevenueService,
    start: Annotated[Month, Query(alias="from")] = None,
    end: Annotated[Month, Query(alias="to")] = None,
    workspace_id: Annotated[str | None, Query(max_length=100)] = None,
    currency: Currency = "usd",
) -> Mrr:
    """Monthly recurring revenue at the end of each UTC month from ``from`` to ``to``
    (``YYYY-MM``; the last twelve months by default; at most ten years), with how it moved:
    new, expansion, contraction, churned and reactivated. A subscription counts from its
    first paid invoice on, while ``active`` or ``past_due``; a yearly price as a twelfth.
    ``workspace_id`` narrows it to one workspace."""
    last = _month(end, "to") if end else datetime.now(UTC).date().replace(day=1)
    first = _month(start, "from") if start else _months_before(last, 11)
    first, last = bounded(*period(first, last))
    return await revenue.mrr(principal.require_agency(), first, last, currency, workspace_id)


@router.get(
    "/payouts",
    response_model=PayoutList,
    responses=documented(ForbiddenError, ValidationFailedError),
)
async def list_payouts(
    principal: Owner,
    revenue: RevenueService,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> PayoutList:
    """The agency's payouts to its bank arriving (``arrival_date``) from ``from`` to ``to``
    inclusive (this calendar year by default; at most ten years), latest first, each with
    what the balance transactions it settled add up to."""
    first, last = bounded(*period(start, end))
    return PayoutList(data=await revenue.payouts(principal.require_agency(), first, last))


@router.get(
    "/payouts/{payout_id}",
    response_model=PayoutDetail,
    responses=documented(ForbiddenError, NotFoundError),
)
async def get_payout(
    principal: Owner,
    revenue: RevenueService,
    payout_id: Annotated[str, Path(max_length=100)],
) -> PayoutDetail:
    """One payout with the balance transactions it settled (Stripe's
    ``balance_transactions?payout=``), oldest first, each with the workspace and invoice its
    money belongs to; their ``net_cents`` add up to the payout's ``amount_cents``."""
    return await revenue.payout(principal.require_agency(), payout_id)


@router.get("/subscriptions", response_model=SubscriptionList, responses=documented(ForbiddenError))
async def get_charging_health(principal: Owner, revenue: RevenueService) -> SubscriptionList:
    """Per client subscription: its status, when it was last paid, and since when it has
    been failing (the first failed attempt of its invoices still unpaid; null when fine)."""
    return SubscriptionList(data=await revenue.charging_health(principal.require_agency()))


@router.get(
    "/dashboard",
    response_class=HTMLResponse,
    responses=documented(ForbiddenError, ValidationFailedError),
)
async def get_dashboard(
    principal: Owner, revenue: RevenueService, summary: OwnerSummary
) -> HTMLResponse:
    """The same figures as a page a person reads, with MRR and its movements over the last
    twelve months of the period that had revenue, the payouts arriving in the period and the
    subscriptions' charging health."""
    agency_id = principal.require_agency()
    figures = Summary.model_validate_json(summary)
    health = await revenue.charging_health(agency_id)
    payouts = await revenue.payouts(agency_id, figures.period_from, figures.period_to)
    if figures.months:  # the last month with revenue
        last = _month(figures.months[-1].month)
    else:
        last = min(figures.period_to, datetime.now(UTC).date()).replace(day=1)
    first = max(_months_before(last, 11), figures.period_from.replace(day=1))
    mrr = await revenue.mrr(agency_id, first, last, figures.currency, None)
    names = await revenue.names(agency_id)
    return HTMLResponse(render_dashboard(agency_id, figures, health, payouts, mrr, names))
