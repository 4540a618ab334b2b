"""Reading revenue's figures for a shop on the emulator once they agree with Stripe, and the
platform's own view of what it earned on the shop: shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.helpers.revenue.money import Shop, expected_summary
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

WHOLE_RANGE = {"from": "2020-01-01", "to": "2099-12-31"}
FIGURES = ("gross_cents", "platform_fee_cents", "stripe_fee_cents", "refunded_cents",
           "disputed_cents", "net_cents")  # fmt: skip


async def summary_of(revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop) -> dict[str, Any]:
    owner = tokens.headers("owner", shop.agency_id)
    response = await revenue.get("/v1/revenue/summary", params=WHOLE_RANGE, headers=owner)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def settled_summary(revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop) -> dict[str, Any]:
    """The summary once it agrees with Stripe (or the last one seen, to show the gap)."""
    expected = expected_summary(shop.balance_transactions())
    seen: dict[str, Any] = {}

    async def agrees() -> bool:
        nonlocal seen
        seen = await summary_of(revenue, tokens, shop)
        return {name: seen[name] for name in FIGURES} == expected

    try:
        await eventually(agrees, within=90)
    except TimeoutError:
        pytest.fail(f"summary {seen} never matched Stripe's {expected}")
    return seen


async def settled_payouts(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Stripe's payouts of the shop (the last may be in transit), and revenue's listing of
    them once it has each and knows what each reconciled one settled."""
    await settled_summary(revenue, tokens, shop)
    payouts = await asyncio.to_thread(shop.payouts)
    assert any(p["reconciliation_status"] == "completed" for p in payouts)
    owner = tokens.headers("owner", shop.agency_id)
    days = sorted(datetime.fromtimestamp(p["arrival_date"], UTC).date() for p in payouts)
    period = {"from": days[0].isoformat(), "to": days[-1].isoformat()}

    async def listed() -> dict[str, dict[str, Any]]:
        answer = await revenue.get("/v1/revenue/payouts", params=period, headers=owner)
        assert answer.status_code == 200, answer.text
        return {p["payout_id"]: p for p in answer.json()["data"]}

    async def all_there() -> bool:
        seen = await listed()
        return all(
            p["id"] in seen
            and seen[p["id"]]["transactions_known"] == (p["reconciliation_status"] == "completed")
            for p in payouts
        )

    await eventually(all_there, within=90)
    return payouts, await listed()


async def check_payouts(revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop) -> int:
    """Each of the shop's payouts that Stripe reconciled, as revenue lists it, equals what
    Stripe says it settled, to the cent; how many there were."""
    every, seen = await settled_payouts(revenue, tokens, shop)
    payouts = [p for p in every if p["reconciliation_status"] == "completed"]
    owner = tokens.headers("owner", shop.agency_id)
    assert set(seen) == {p["id"] for p in every}
    for payout in payouts:
        settled = await asyncio.to_thread(shop.settled_by, payout["id"])
        expected = expected_summary(settled)
        got = seen[payout["id"]]
        assert got["amount_cents"] == payout["amount"] == sum(t["net"] for t in settled)
        assert {name: got[name] for name in FIGURES[:-1]} == {
            name: expected[name] for name in FIGURES[:-1]
        }
        assert got["other_cents"] == payout["amount"] - expected["net_cents"]
        assert got["transactions"] == len(settled)
        answer = await revenue.get(f"/v1/revenue/payouts/{payout['id']}", headers=owner)
        detail = answer.json()
        assert {t["balance_transaction_id"]: t["net_cents"] for t in detail["transactions"]} == {
            t["id"]: t["net"] for t in settled
        }
        charges = [t for t in detail["transactions"] if t["type"] == "charge"]
        assert all(t["workspace_id"] and t["invoice_id"] for t in charges)
    return len(payouts)


def platform_fees_earned(shop: Shop) -> int:
    """What the platform account's balance transactions say it earned on the shop's
    payments: its ``application_fee`` transactions less its ``application_fee_refund``
    ones, found from the shop's charges (an application fee names its charge)."""
    sdk = shop.sdk
    charges = [t["source"] for t in shop.balance_transactions() if t["type"] == "charge"]
    earned = 0
    for charge in charges:
        for fee in sdk.v1.application_fees.list(params={"charge": charge}).auto_paging_iter():
            assert fee.account == shop.account_id
            sources = [fee.id, *(r.id for r in sdk.v1.application_fees.refunds.list(fee.id))]
            for source in sources:
                for txn in sdk.v1.balance_transactions.list(params={"source": source}):
                    assert txn.type in ("application_fee", "application_fee_refund")
                    earned += txn.amount
    return earned


def days_of(summary: dict[str, Any]) -> dict[str, str]:
    """From the first day of the summary's first month to the last of its last."""
    first = date.fromisoformat(summary["months"][0]["month"] + "-01")
    after = date.fromisoformat(summary["months"][-1]["month"] + "-01") + timedelta(days=31)
    return {"from": first.isoformat(), "to": (after.replace(day=1) - timedelta(days=1)).isoformat()}


async def agency_in_overview(
    revenue: httpx.AsyncClient, operator: dict[str, str], days: dict[str, str], agency_id: str
) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """The overview's row of the agency, the overview page it is on, and the cursor of that
    page."""
    after: str | None = None
    while True:
        params = {**days, "agencies_limit": "1000", **({"agencies_after": after} if after else {})}
        response = await revenue.get("/v1/platform/overview", params=params, headers=operator)
        assert response.status_code == 200, response.text
        page = response.json()
        for row in page["agencies"]:
            if row["agency_id"] == agency_id:
                return row, page, after
        assert page["agencies_next"], f"{agency_id} is not among the overview's agencies"
        after = page["agencies_next"]
