"""The platform operator's routes: the overview of the platform's business and the same as
a page, the back-office (the platform's figures, GMV by agency as inline SVG bars, each
agency's health, a banner while any account is not reconciled; server-rendered like the
owner's dashboard, with its styles: ``revenue.api.pages``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from billing_kit.auth import Operator
from billing_kit.db import DbSession
from billing_kit.errors import ForbiddenError, ValidationFailedError, documented
from revenue.api.pages import CHART_WIDTH, TEMPLATES, money
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


# --- the page --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyBar:
    label: str
    x: float
    y: float
    width: float
    value: str


AGENCY_BARS = 10
"""The agencies of the page with the most GMV drawn in the back-office's chart."""
_LABEL_WIDTH = 190


def agency_bars(overview: PlatformOverview) -> list[AgencyBar]:
    """GMV of the page's busiest agencies as horizontal bars, scaled to the largest."""
    busiest = sorted((a for a in overview.agencies if a.gmv_cents > 0), key=lambda a: -a.gmv_cents)[
        :AGENCY_BARS
    ]
    if not busiest:
        return []
    top = busiest[0].gmv_cents
    room = CHART_WIDTH - _LABEL_WIDTH - 110
    return [
        AgencyBar(
            label=agency.agency_id[:28],
            x=_LABEL_WIDTH,
            y=4 + index * 28,
            width=round(max(room * agency.gmv_cents / top, 1), 1),
            value=money(agency.gmv_cents, overview.currency),
        )
        for index, agency in enumerate(busiest)
    ]


def render_back_office(overview: PlatformOverview) -> str:
    next_agencies = None
    if overview.agencies_next is not None:  # a page with more after it is full: its size
        next_agencies = urlencode(
            {"from": overview.period_from.isoformat(), "to": overview.period_to.isoformat(),
             "currency": overview.currency, "agencies_limit": len(overview.agencies),
             "agencies_after": overview.agencies_next}
        )  # fmt: skip
    return TEMPLATES.get_template("back_office.html.j2").render(
        overview=overview,
        money=lambda cents: money(cents, overview.currency),
        bars=agency_bars(overview),
        chart_width=CHART_WIDTH,
        next_agencies=next_agencies,
    )
