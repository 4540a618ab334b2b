"""The pages people read, server-rendered (no scripts, no front-end build, charts drawn as
inline SVG): the owner's revenue dashboard (totals, a month-by-month chart, MRR and its
movements, the per-workspace table, the payouts that reached the bank and the subscriptions
that stopped charging), and the templates, chart scale and money formatting the platform
operator's back-office draws its page with (``revenue.back_office.api``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from revenue.schemas import (
    Mrr,
    Names,
    PayoutSummary,
    SubscriptionCharging,
    Summary,
)

TEMPLATES = Environment(
    loader=PackageLoader("revenue", "templates"),
    autoescape=select_autoescape(("html", "j2")),
    trim_blocks=True,
    lstrip_blocks=True,
)

CHART_WIDTH = 720
CHART_HEIGHT = 220
_PLOT_TOP = 16
_PLOT_BOTTOM = 190


def money(cents: int, currency: str = "usd") -> str:
    """Cents as an amount a person reads: ``-$1,234.50``."""
    sign = "-" if cents < 0 else ""
    symbol = "$" if currency == "usd" else f"{currency.upper()} "
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{symbol}{whole:,}.{rest:02d}"


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    width: float
    gross_y: float
    gross_height: float
    net_y: float
    net_height: float
    gross: str
    net: str


def chart_bars(summary: Summary) -> list[Bar]:
    """Gross and net per month, scaled to the largest month; negative months draw empty."""
    return _bars([(m.month, m.gross_cents, m.net_cents) for m in summary.months], summary.currency)


def mrr_bars(mrr: Mrr) -> list[Bar]:
    """MRR at each month's end (drawn as the bar's first half, doubled in width)."""
    return _bars([(m.month, m.mrr_cents, 0) for m in mrr.months], mrr.currency)


def _bars(months: list[tuple[str, int, int]], currency: str) -> list[Bar]:
    """Two bars per month (label, first, second), scaled to the largest figure."""
    if not months:
        return []
    top = max(max(first, second) for _, first, second in months) or 1
    plot = _PLOT_BOTTOM - _PLOT_TOP
    slot = (CHART_WIDTH - 60) / len(months)
    width = min(slot * 0.35, 40)
    bars = []
    for index, (label, first, second) in enumerate(months):
        gross = plot * max(first, 0) / top
        net = plot * max(second, 0) / top
        x = 50 + index * slot + (slot - 2 * width) / 2
        bars.append(
            Bar(
                label=label,
                x=round(x, 1),
                width=round(width, 1),
                gross_y=round(_PLOT_BOTTOM - gross, 1),
                gross_height=round(gross, 1),
                net_y=round(_PLOT_BOTTOM - net, 1),
                net_height=round(net, 1),
                gross=money(first, currency),
                net=money(second, currency),
            )
        )
    return bars


def _next_workspaces(summary: Summary) -> str | None:
    """The query string of the page listing the workspaces after these ones."""
    if summary.workspaces_next is None:
        return None
    return urlencode(
        {"from": summary.period_from.isoformat(), "to": summary.period_to.isoformat(),
         "currency": summary.currency, "workspaces_after": summary.workspaces_next}
    )  # fmt: skip


def render_dashboard(
    agency_id: str,
    summary: Summary,
    subscriptions: list[SubscriptionCharging],
    payouts: list[PayoutSummary],
    mrr: Mrr | None = None,
    names: Names | None = None,
) -> str:
    mrr = mrr or Mrr(currency=summary.currency, arr_cents=0, months=[])
    names = names or Names()
    template = TEMPLATES.get_template("dashboard.html.j2")
    return template.render(
        agency_id=agency_id,
        summary=summary,
        money=lambda cents: money(cents, summary.currency),
        bars=chart_bars(summary),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        plot_bottom=_PLOT_BOTTOM,
        next_workspaces=_next_workspaces(summary),
        failing=[s for s in subscriptions if s.failing_since is not None],
        charging=[s for s in subscriptions if s.failing_since is None],
        payouts=payouts,
        mrr=mrr,
        mrr_bars=mrr_bars(mrr),
        names=names,
    )
