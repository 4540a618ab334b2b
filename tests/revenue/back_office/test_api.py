"""The back-office page as HTML, without infrastructure:'s banner when any account is
not reconciled, a row per agency, the next page's link and the busiest agencies' bars."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from revenue.back_office.api import AGENCY_BARS, agency_bars, render_back_office
from revenue.back_office.schemas import AgencyOverview, PlatformOverview, PlatformReconciliation

pytestmark = [pytest.mark.unit]


def _agency(n: int, **fields: object) -> AgencyOverview:
    values: dict[str, object] = {
        "agency_id": f"agency-{n:02d}", "gmv_cents": n * 10_000, "platform_fees_cents": n * 50,
        "mrr_cents": 0, "client_workspaces": n, "decline_rate": None, "dispute_rate": None,
        "saas_plan_status": None, "balance_covers_next_fee": None,
        "reconciliation": "reconciled",
    }  # fmt: skip
    return AgencyOverview.model_validate(values | fields)


def _overview(
    agencies: list[AgencyOverview], mismatched: int = 0, next_: str | None = None
) -> PlatformOverview:
    return PlatformOverview(
        currency="usd", period_from=date(2027, 1, 1), period_to=date(2027, 12, 31),
        gmv_cents=sum(a.gmv_cents for a in agencies),
        platform_fees_cents=sum(a.platform_fees_cents for a in agencies), saas_mrr_cents=0,
        saas_collected_cents=0, saas_failing_cents=0,
        reconciliation=PlatformReconciliation(
            status="healing" if mismatched else "reconciled", accounts_mismatched=mismatched
        ),
        agencies=agencies, agencies_next=next_,
    )  # fmt: skip


def test_the_banner_shows_only_while_an_account_is_not_reconciled() -> None:
    healing = _agency(2, reconciliation="healing")
    shown = render_back_office(_overview([_agency(1), healing], mismatched=1))
    banner = re.search(r'id="reconciliation-banner"[^>]*>([^<]*)<', shown)
    assert banner is not None
    assert html.unescape(banner.group(1)).startswith(
        "1 connected account's figures are not reconciled"
    )
    assert 'id="reconciliation-banner"' not in render_back_office(_overview([_agency(1)]))
    calm = html.unescape(render_back_office(_overview([_agency(1)])))
    assert "Every account's figures match Stripe." in calm


def test_every_agency_of_the_page_has_a_row_and_the_next_page_a_link() -> None:
    agencies = [
        _agency(1, decline_rate=0.125, saas_plan_status="past_due", balance_covers_next_fee=False),
        _agency(2, dispute_rate=0.0, balance_covers_next_fee=True),
    ]
    shown = render_back_office(_overview(agencies, next_="agency-02"))
    rows = re.findall(r'<tr data-agency="([^"]+)">(.*?)</tr>', shown, re.S)
    assert [agency for agency, _ in rows] == ["agency-01", "agency-02"]
    first, second = (re.sub(r"<[^>]+>", "|", cells) for _, cells in rows)
    assert "|12.50 %|" in first
    assert "|past_due|" in first
    assert "|no|" in first
    assert "|0.00 %|" in second
    assert "|yes|" in second
    assert "|no plan|" in second
    assert "agencies_limit=2&amp;agencies_after=agency-02" in shown
    assert "agencies_after" not in render_back_office(_overview(agencies))


def test_the_chart_draws_the_busiest_agencies_longest_first() -> None:
    agencies = [_agency(n) for n in range(1, 15)] + [_agency(20, gmv_cents=0)]
    bars = agency_bars(_overview(agencies))
    assert [b.label for b in bars] == [f"agency-{n:02d}" for n in range(14, 14 - AGENCY_BARS, -1)]
    assert [b.width for b in bars] == sorted((b.width for b in bars), reverse=True)
    assert agency_bars(_overview([_agency(20, gmv_cents=0)])) == []
