"""The back-office page: the platform's figures, GMV by agency as inline SVG bars, each
agency's health, a banner while any account is not reconciled (server-rendered like the
owner's dashboard, with its styles)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from revenue.back_office.schemas import PlatformOverview
from revenue.dashboard import CHART_WIDTH, TEMPLATES, money


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
