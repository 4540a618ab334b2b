"""The platform operator's routes: the overview of the platform's business and the same as
a page (the back-office)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from billing_kit.auth import Operator
from billing_kit.db import DbSession
from billing_kit.errors import ForbiddenError, ValidationFailedError, documented
from revenue.back_office.dashboard import render_back_office
from revenue.back_office.schemas import PlatformOverview
from revenue.back_office.service import BackOffice
from revenue.rules import AGENCIES_MAX, AGENCIES_PAGE, AgencyPage, bounded, period
from revenue.schemas import Currency

router = APIRouter(prefix="/v1/platform", tags=["platform back-office"])


async def _overview(
    _: Operator,
    session: DbSession,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    currency: Currency = "usd",
    agencies_limit: Annotated[int, Query(ge=1, le=AGENCIES_MAX)] = AGENCIES_PAGE,
    agencies_after: Annotated[str | None, Query(max_length=100)] = None,
) -> PlatformOverview:
    first, last = bounded(*period(start, end))
    page = AgencyPage(limit=agencies_limit, after=agencies_after)
    return await BackOffice(session).overview(currency, first, last, page)


Overview = Annotated[PlatformOverview, Depends(_overview)]


@router.get(
    "/overview",
    response_model=PlatformOverview,
    responses=documented(ForbiddenError, ValidationFailedError),
)
async def get_overview(overview: Overview) -> PlatformOverview:
    """The platform's business over the UTC days from ``from`` to ``to`` inclusive (this
    calendar year by default; at most ten years): what agencies' clients paid (GMV), the
    platform's fees on it, its SaaS fees (MRR now, collected in the days, failing now), how
    the ledger compares with Stripe, and a page of the agencies in id order (100 unless
    ``agencies_limit`` says up to 1,000; ``agencies_next``, when not null, is the
    ``agencies_after`` that asks for the next page). An agency's ``gmv_cents`` and
    ``platform_fees_cents`` equal its own summary's over the same days."""
    return overview


@router.get(
    "/back-office",
    response_class=HTMLResponse,
    responses=documented(ForbiddenError, ValidationFailedError),
)
async def get_back_office(overview: Overview) -> HTMLResponse:
    """The overview as a page a person reads, with a banner when any account's figures are
    not reconciled with Stripe."""
    return HTMLResponse(render_back_office(overview))
