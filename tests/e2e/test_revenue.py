"""Step 4 of the client-billing guide through the whole stack: money moves on Stripe (a
subscription paid and renewed, a one-off paid then partly refunded, a charge disputed and
lost); Stripe's signed webhooks flow through webhook-ingest and Kafka into the revenue
ledger; the owner's summary equals Stripe's balance transactions to the cent, ``reconcile``
finds nothing to report, and every movement is on ``revenue.ledger.v1`` exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from billing_contracts.revenue_ledger import LEDGER, LedgerEntryRecorded
from billing_devstack import Infra
from revenue.api.pages import money
from tests.helpers.databases import connect
from tests.helpers.kafka import read_topic
from tests.helpers.revenue.browser import render
from tests.helpers.revenue.figures import (
    FIGURES,
    WHOLE_RANGE,
    agency_in_overview,
    check_payouts,
    days_of,
    platform_fees_earned,
    settled_payouts,
    settled_summary,
)
from tests.helpers.revenue.money import (
    LEDGER_TYPES,
    Shop,
    expected_summary,
    new_workspace_id,
    open_shop,
    platform_fee,
)
from tests.helpers.revenue.replay import events_of_account, replay, shuffled_with_repeats
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
async def revenue(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["revenue"], timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def shop(infra: Infra) -> Shop:
    """An agency that made money every way the guide names, and is done moving it."""
    assert infra.stripe_api_base is not None
    sdk = emulator_sdk(infra.stripe_api_base)
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
        shop = await open_shop(sdk, emulator)
        retainer, project = new_workspace_id(), new_workspace_id()
        await asyncio.to_thread(shop.subscription, retainer, 250_000)
        paid = await asyncio.to_thread(shop.one_off, project, 120_000)
        await asyncio.to_thread(shop.refund, shop.charge_of(paid), 20_000)
        disputed = await asyncio.to_thread(shop.one_off, project, 50_000, "pm_card_createDispute")
        await asyncio.to_thread(shop.lose_dispute, shop.charge_of(disputed))
        # The renewal: a month later Stripe charges the subscription again.
        advanced = await emulator.post("/_emulator/clock/advance", json={"seconds": 32 * 86400})
        assert advanced.status_code == 200, advanced.text
    return shop


async def run_reconcile(infra: Infra, shop: Shop) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "revenue", "reconcile", "--account", shop.account_id,
               "--from", WHOLE_RANGE["from"], "--to", WHOLE_RANGE["to"]]  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run,
        command,
        env=infra.service_env(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_the_summary_equals_stripe_s_balance_transactions_to_the_cent(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop
) -> None:
    assert sum(1 for t in shop.balance_transactions() if t["type"] == "charge") == 4
    summary = await settled_summary(revenue, tokens, shop)
    assert summary["platform_fee_cents"] == (
        platform_fee(250_000) * 2 + platform_fee(120_000) + platform_fee(50_000)
        - platform_fee(20_000)
    )  # fmt: skip
    assert summary["refunded_cents"] == 20_000
    assert summary["disputed_cents"] == 50_000
    assert len(summary["workspaces"]) == 2
    for name in ("gross_cents", "platform_fee_cents", "net_cents"):
        assert sum(w[name] for w in summary["workspaces"]) == summary[name]
        assert sum(m[name] for m in summary["months"]) == summary[name]
    assert len(summary["months"]) >= 2, "the renewal lands a month later"

    owner = tokens.headers("owner", shop.agency_id)
    [health] = (await revenue.get("/v1/revenue/subscriptions", headers=owner)).json()["data"]
    assert health["status"] == "active"
    assert health["last_paid_at"] is not None
    assert health["failing_since"] is None

    page = await revenue.get("/v1/revenue/dashboard", params=WHOLE_RANGE, headers=owner)
    assert page.headers["content-type"].startswith("text/html")
    net = summary["net_cents"]
    assert f"${net // 100:,}.{net % 100:02d}" in page.text


def _utc_day(txn: dict[str, Any]) -> date:
    return datetime.fromtimestamp(txn["created"], UTC).date()


async def test_a_range_of_days_counts_the_balance_transactions_of_those_utc_days(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop
) -> None:
    await settled_summary(revenue, tokens, shop)
    movements = [t for t in shop.balance_transactions() if t["type"] in LEDGER_TYPES]
    first, renewal = min(map(_utc_day, movements)), max(map(_utc_day, movements))
    assert (renewal.year, renewal.month) > (first.year, first.month), "the renewal is a month on"
    day = timedelta(days=1)
    owner = tokens.headers("owner", shop.agency_id)
    # From the day after the first payments (mid-month unless that is the 1st) to the
    # renewal's day: whole months would count the first payments too.
    for start, end in ((first, first), (first + day, renewal), (first + day, renewal - day)):
        params = {"from": start.isoformat(), "to": end.isoformat()}
        response = await revenue.get("/v1/revenue/summary", params=params, headers=owner)
        summary = response.json()
        within = [t for t in movements if start <= _utc_day(t) <= end]
        assert {name: summary[name] for name in FIGURES} == expected_summary(within), params
        assert (summary["period_from"], summary["period_to"]) == (params["from"], params["to"])
        for name in ("gross_cents", "platform_fee_cents", "net_cents"):
            assert sum(w[name] for w in summary["workspaces"]) == summary[name]
            assert sum(m[name] for m in summary["months"]) == summary[name]
        assert {m["month"] for m in summary["months"]} == {f"{_utc_day(t):%Y-%m}" for t in within}
        page = await revenue.get("/v1/revenue/dashboard", params=params, headers=owner)
        assert f">{money(summary['net_cents'])}<" in page.text
    assert {name: summary[name] for name in FIGURES} == dict.fromkeys(FIGURES, 0)


async def test_the_workspaces_come_a_page_at_a_time_under_the_same_totals(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop
) -> None:
    whole = await settled_summary(revenue, tokens, shop)
    assert whole["workspaces_next"] is None
    owner = tokens.headers("owner", shop.agency_id)
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {**WHOLE_RANGE, "workspaces_limit": 1}
    while True:
        response = await revenue.get("/v1/revenue/summary", params=params, headers=owner)
        pages.append(response.json())
        if pages[-1]["workspaces_next"] is None:
            break
        params["workspaces_after"] = pages[-1]["workspaces_next"]
    assert [len(page["workspaces"]) for page in pages] == [1, 1]
    assert [w for page in pages for w in page["workspaces"]] == whole["workspaces"]
    assert pages[0]["workspaces_next"] == whole["workspaces"][0]["workspace_id"]
    for page in pages:
        assert {name: page[name] for name in FIGURES} == {name: whole[name] for name in FIGURES}
        assert page["months"] == whole["months"]
    dashboard = await revenue.get(
        "/v1/revenue/dashboard", params={**WHOLE_RANGE, "workspaces_limit": 1}, headers=owner
    )
    assert "Next workspaces" in dashboard.text
    assert f"workspaces_after={pages[0]['workspaces_next']}" in dashboard.text


async def test_reconcile_finds_the_ledger_equal_to_stripe(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, infra: Infra
) -> None:
    await settled_summary(revenue, tokens, shop)
    done = await run_reconcile(infra, shop)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches Stripe" in done.stdout


async def test_every_movement_is_on_the_public_ledger_topic_once(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, infra: Infra
) -> None:
    await settled_summary(revenue, tokens, shop)
    movements = {t["id"] for t in shop.balance_transactions() if t["type"] in LEDGER_TYPES}

    async def published() -> Counter[str]:
        records = await read_topic(infra.kafka_bootstrap, LEDGER.name)
        mine = [LEDGER.decode(r.value) for r in records if r.key == shop.agency_id.encode()]
        return Counter(e.payload.entry_id for e in mine if isinstance(e, LedgerEntryRecorded))

    async def all_out() -> bool:
        return set(await published()) == movements

    await eventually(all_out, within=60)
    assert set((await published()).values()) == {1}


async def test_each_payout_adds_up_to_what_stripe_says_it_settled(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop
) -> None:
    """The month's clock step paid the balance out daily: each payout's figures, from the
    balance transactions it settled, equal Stripe's to the cent."""
    assert await check_payouts(revenue, tokens, shop) > 0
    payouts = await asyncio.to_thread(shop.payouts)
    someone_else = tokens.headers("owner", "agency-someone-else")
    other = await revenue.get(f"/v1/revenue/payouts/{payouts[0]['id']}", headers=someone_else)
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("seed", "max_batch"), [(7, 1), (2026, 1), (7, 40), (11, 5)])
async def test_the_same_events_shuffled_and_repeated_give_the_same_totals(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, infra: Infra, seed: int, max_batch: int
) -> None:
    """Event by event, or in batches as a consumer is given them."""
    live = await settled_summary(revenue, tokens, shop)
    events = await events_of_account(infra.kafka_bootstrap, shop.account_id)
    assert {type(e).__name__ for _, e in events} >= {
        "StripeChargeSucceeded", "StripeRefundCreated", "StripeDisputeFundsWithdrawn",
        "StripeApplicationFeeRefunded", "StripeInvoicePaid",
    }  # fmt: skip
    mixed = shuffled_with_repeats(events, seed)
    assert len(mixed) > len(events)
    del live["reconciliation"]  # the live ledger's comparison with Stripe, not the events'
    assert await replay(infra, shop.agency_id, mixed, max_batch) == live


async def test_the_dashboard_reads_well_in_a_browser(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, tmp_path: Path
) -> None:
    summary = await settled_summary(revenue, tokens, shop)
    payouts, _ = await settled_payouts(revenue, tokens, shop)
    owner = tokens.headers("owner", shop.agency_id)
    page = await revenue.get("/v1/revenue/dashboard", params=WHOLE_RANGE, headers=owner)
    assert page.status_code == 200
    shown = await render(
        page.text,
        tmp_path / "dashboard.png",
        texts=["[data-figure=gross] .value", "[data-figure=net] .value", "#workspaces",
               "#payouts", "#arr"],
        counts=["svg g.month", "#workspaces tbody tr", "#subscriptions tr.charging",
                "#payouts tbody tr", "svg g.mrr-month", "#mrr tbody tr"],
    )  # fmt: skip
    last = summary["months"][-1]["month"]
    mrr = (
        await revenue.get("/v1/revenue/mrr", params={"from": last, "to": last}, headers=owner)
    ).json()
    assert mrr["months"][-1]["mrr_cents"] == 250_000  # the retainer
    assert (
        shown.texts["#arr"]
        == f"MRR {money(250_000)} at the end of {last} · ARR {money(250_000 * 12)}"
    )
    for payout in payouts:
        assert payout["id"] in shown.texts["#payouts"]
        assert money(payout["amount"]) in shown.texts["#payouts"]
    assert shown.texts["[data-figure=gross] .value"] == money(summary["gross_cents"])
    assert shown.texts["[data-figure=net] .value"] == money(summary["net_cents"])
    for workspace in summary["workspaces"]:
        assert workspace["workspace_id"] in shown.texts["#workspaces"]
    assert shown.counts == {
        "svg g.month": len(summary["months"]),
        "#workspaces tbody tr": 2,
        "#subscriptions tr.charging": 1,
        "#payouts tbody tr": len(payouts),
        "svg g.mrr-month": 12,  # the twelve months to the last with revenue
        "#mrr tbody tr": 12,
    }
    assert shown.width <= 1100, "nothing overflows the window sideways"
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    phone = await render(
        page.text, tmp_path / "dashboard-375.png", texts=["#arr", "[data-figure=net] .value"],
        counts=["#payouts tbody tr"], width=375,
    )  # fmt: skip
    assert phone.width <= 375, "on a phone the page fits its width (wide tables scroll)"
    assert phone.texts == {
        "#arr": shown.texts["#arr"], "[data-figure=net] .value": money(summary["net_cents"]),
    }  # fmt: skip
    assert phone.counts == {"#payouts tbody tr": len(payouts)}


async def test_reconcile_names_an_entry_stripe_does_not_know_and_fails(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, infra: Infra
) -> None:
    await settled_summary(revenue, tokens, shop)
    conn = await connect(infra.database_url)
    try:
        await conn.execute(
            "INSERT INTO revenue.ledger_entries (entry_id, kind, agency_id, stripe_account_id,"
            " currency, gross_cents, stripe_fee_cents, platform_fee_cents, net_cents,"
            " occurred_at) VALUES ('txn_invented', 'charge', $1, $2, 'usd', 100, 0, 0, 100,"
            " now())",
            shop.agency_id,
            shop.account_id,
        )
        done = await run_reconcile(infra, shop)
    finally:
        await conn.execute("DELETE FROM revenue.ledger_entries WHERE entry_id = 'txn_invented'")
        await conn.close()
    assert done.returncode == 1
    assert "txn_invented" in done.stdout
    assert "1 difference" in done.stdout


async def test_the_back_office_shows_the_agency_as_its_summary_and_the_fees_stripe_paid(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, tmp_path: Path
) -> None:
    whole = await settled_summary(revenue, tokens, shop)
    days = days_of(whole)
    owner = tokens.headers("owner", shop.agency_id)
    summary = (await revenue.get("/v1/revenue/summary", params=days, headers=owner)).json()
    assert {name: summary[name] for name in FIGURES} == {name: whole[name] for name in FIGURES}
    operator = tokens.headers("platform_operator")
    row, page, after = await agency_in_overview(revenue, operator, days, shop.agency_id)
    assert row["gmv_cents"] == summary["gross_cents"]
    assert row["platform_fees_cents"] == summary["platform_fee_cents"]
    assert row["platform_fees_cents"] == platform_fees_earned(shop)
    last = summary["months"][-1]["month"]
    mrr = await revenue.get("/v1/revenue/mrr", params={"from": last, "to": last}, headers=owner)
    assert row["mrr_cents"] == mrr.json()["months"][-1]["mrr_cents"] == 250_000
    assert row["dispute_rate"] == 0.25  # one of four charges disputed
    assert row["decline_rate"] == 0.0  # every invoice paid at its first attempt
    assert row["saas_plan_status"] is None
    assert row["balance_covers_next_fee"] is None
    assert page["gmv_cents"] >= row["gmv_cents"] > 0

    query = {**days, "agencies_limit": "1000", **({"agencies_after": after} if after else {})}
    html = await revenue.get("/v1/platform/back-office", params=query, headers=operator)
    assert html.status_code == 200
    selector = f'tr[data-agency="{shop.agency_id}"]'
    shown = await render(
        html.text, tmp_path / "back-office.png",
        texts=[selector, "[data-figure=gmv] .value", "[data-figure=platform_fees] .value"],
        counts=["#reconciliation-banner", "#agencies tbody tr"],
    )  # fmt: skip
    assert money(row["gmv_cents"]) in shown.texts[selector]
    assert money(row["platform_fees_cents"]) in shown.texts[selector]
    assert "25.00 %" in shown.texts[selector]
    assert shown.texts["[data-figure=gmv] .value"] == money(page["gmv_cents"])
    assert shown.counts == {
        "#reconciliation-banner": 1 if page["reconciliation"]["accounts_mismatched"] else 0,
        "#agencies tbody tr": len(page["agencies"]),
    }
    assert shown.width <= 1100
    phone = await render(html.text, tmp_path / "back-office-375.png", texts=[], counts=[],
                         width=375)  # fmt: skip
    assert phone.width <= 375, "on a phone the page fits its width (the table scrolls)"
