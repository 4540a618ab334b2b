"""revenue routes (owner only): the summary, charging health and the dashboard page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from billing_kit.auth import Principal, Role, require_roles
from billing_kit.db import DbSession
from billing_kit.errors import FieldError, ForbiddenError, ValidationFailedError, documented
from revenue.dashboard import render_dashboard
from revenue.rules import WORKSPACES_MAX, WORKSPACES_PAGE, WorkspacePage
from revenue.schemas import SubscriptionList, Summary
from revenue.service import Revenue
from revenue.stripe_gateway import RevenueStripe

router = APIRouter(prefix="/v1/revenue", tags=["revenue"])


def _revenue(request: Request, session: DbSession) -> Revenue:
    return Revenue(session, RevenueStripe(request.app.state.runtime.stripe))


RevenueService = Annotated[Revenue, Depends(_revenue)]
Owner = Annotated[Principal, Depends(require_roles(Role.OWNER))]
Currency = Annotated[str, Query(pattern=r"^[a-z]{3}$")]


def _this_year() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return date(today.year, 1, 1), date(today.year, 12, 31)


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    default_start, default_end = _this_year()
    start, end = start or default_start, end or default_end
    if start > end:
        raise ValidationFailedError(
            "The period must not end before it starts.",
            fields=[FieldError(field="to", message="must be on or after from")],
        )
    return start, end


async def _summary(
    principal: Owner,
    revenue: RevenueService,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    currency: Currency = "usd",
    workspaces_limit: Annotated[int, Query(ge=1, le=WORKSPACES_MAX)] = WORKSPACES_PAGE,
    workspaces_after: Annotated[str | None, Query(max_length=100)] = None,
) -> str:
    first, last = _period(start, end)
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
    """The same figures as a page a person reads, with the subscriptions' charging health."""
    agency_id = principal.require_agency()
    health = await revenue.charging_health(agency_id)
    return HTMLResponse(render_dashboard(agency_id, Summary.model_validate_json(summary), health))
