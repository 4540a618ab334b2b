"""Two agencies over six emulator months through the whole stack: for each, a monthly
retainer and a yearly one started, the monthly one migrated up and later down, the yearly one
cancelled and its workspace back on a new subscription, and the balance paid out daily. Every
figure equals what Stripe's objects say, to the cent: each month's MRR and movement (from when
each first invoice was paid, when each price changed, when the cancellation happened), the
summary (the account's balance transactions), each payout (what Stripe says it settled), and
the platform's overview of the agency (its summary, and the application fees the platform
account earned on it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.revenue.figures import (
    agency_in_overview,
    check_payouts,
    days_of,
    platform_fees_earned,
    settled_summary,
)
from tests.helpers.revenue.money import Shop, new_workspace_id, open_shop
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DAY = 86_400
MONTHLY, UP, DOWN, YEARLY, AGAIN = 100_000, 150_000, 120_000, 1_200_006, 50_000


def _month(at: int) -> date:
    return datetime.fromtimestamp(at, UTC).date().replace(day=1)


def _months(first: date, last: date) -> list[date]:
    found = [first]
    while found[-1] < last:
        month = found[-1]
        found.append(date(month.year + month.month // 12, month.month % 12 + 1, 1))
    return found


def _end(month: date) -> int:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return int(datetime(following.year, following.month, 1, tzinfo=UTC).timestamp())


@dataclass
class Story:
    """What one agency did, and when Stripe says it happened."""

    shop: Shop
    scale: int
    """Its prices are the base ones times this."""
    monthly: str = ""
    yearly: str = ""
    again: str = ""
    up_at: int = 0
    down_at: int = 0
    cancelled_at: int = 0
    paid: dict[str, int] = field(default_factory=dict)

    def expected_mrr(self, end: int) -> dict[str, int]:
        """Each subscription's MRR just before ``end``, from Stripe's times."""
        k, found = self.scale, {}
        yearly_monthly = (YEARLY * k) // 12 + (1 if (YEARLY * k) % 12 * 2 >= 12 else 0)  # half-up
        if self.paid[self.monthly] < end:
            found[self.monthly] = k * (
                DOWN if self.down_at < end else UP if self.up_at < end else MONTHLY
            )
        if self.paid[self.yearly] < end and self.cancelled_at >= end:
            found[self.yearly] = yearly_monthly
        if self.paid[self.again] < end:
            found[self.again] = k * AGAIN
        return found


@pytest.mark.timeout(600)  # six months of two agencies' clock steps: ~1 min alone, more under load
async def test_two_agencies_over_six_months_equal_what_stripe_says(
    services: dict[str, str], infra: Infra, tokens: Tokens
) -> None:
    assert infra.stripe_api_base is not None
    sdk = emulator_sdk(infra.stripe_api_base)
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=60) as emulator:
        stories = [Story(await open_shop(sdk, emulator), scale) for scale in (1, 2)]

        async def step(days: int) -> int:
            """The clock ``days`` later (Stripe's time, unix seconds)."""
            moved = await emulator.post("/_emulator/clock/advance", json={"seconds": days * DAY})
            assert moved.status_code == 200, moved.text
            now: int = moved.json()["now"]
            return now

        async def run(call: Callable[..., Any], *args: Any) -> Any:
            return await asyncio.to_thread(call, *args)

        workspaces = {id(s): (new_workspace_id(), new_workspace_id()) for s in stories}
        for s in stories:
            ws_a, ws_b = workspaces[id(s)]
            s.monthly = await run(s.shop.subscription, ws_a, MONTHLY * s.scale)
            s.yearly = await run(s.shop.subscription, ws_b, YEARLY * s.scale, "year")
        await step(40)
        for s in stories:
            s.up_at = await run(s.shop.migrate, s.monthly, UP * s.scale)
        await step(35)
        for s in stories:
            s.cancelled_at = await run(s.shop.cancel, s.yearly)
        await step(33)
        for s in stories:
            s.down_at = await run(s.shop.migrate, s.monthly, DOWN * s.scale)
            s.again = await run(s.shop.subscription, workspaces[id(s)][1], AGAIN * s.scale)
        await step(32)
        ended = await step(44)  # six months since the first subscriptions
        for s in stories:
            s.paid = {
                sub: await run(s.shop.first_paid_at, sub) for sub in (s.monthly, s.yearly, s.again)
            }

    async with httpx.AsyncClient(base_url=services["revenue"], timeout=30) as revenue:
        for story in stories:
            await _mrr_is_stripes(revenue, tokens, story, ended)
            await _money_is_stripes(revenue, tokens, story)


async def _mrr_is_stripes(
    revenue: httpx.AsyncClient, tokens: Tokens, story: Story, ended: int
) -> None:
    """Each month's MRR and its movements to the month the story ended in, as Stripe's times
    and prices say."""
    first, last = _month(story.paid[story.monthly]), _month(ended)
    owner = tokens.headers("owner", story.shop.agency_id)
    query = {"from": first.strftime("%Y-%m"), "to": last.strftime("%Y-%m")}
    months = _months(first, last)
    assert len(months) >= 6
    wanted = [sum(story.expected_mrr(_end(m)).values()) for m in months]
    seen: dict[str, Any] = {}

    async def settled() -> bool:
        nonlocal seen
        seen = (await revenue.get("/v1/revenue/mrr", params=query, headers=owner)).json()
        return [m["mrr_cents"] for m in seen["months"]] == wanted

    try:
        await eventually(settled, within=90)
    except TimeoutError:
        pytest.fail(f"MRR {[m['mrr_cents'] for m in seen['months']]} never became {wanted}")
    previous: dict[str, int] = {}
    again = story.again
    for month, row in zip(months, seen["months"], strict=True):
        now = story.expected_mrr(_end(month))
        new = sum(v for s, v in now.items() if s not in previous and s != again)
        back = now.get(again, 0) if again not in previous else 0  # its workspace had churned
        up = sum(max(0, v - previous[s]) for s, v in now.items() if s in previous)
        down = sum(max(0, previous[s] - v) for s, v in now.items() if s in previous)
        gone = sum(v for s, v in previous.items() if s not in now)
        assert (row["new_cents"], row["reactivated_cents"], row["expansion_cents"],
                row["contraction_cents"], row["churned_cents"], row["active_subscriptions"]) == (
            new, back, up, down, gone, len(now)
        ), (month, row)  # fmt: skip
        previous = now
    assert seen["arr_cents"] == wanted[-1] * 12
    assert {m["month"] for m in seen["months"]} == {m.strftime("%Y-%m") for m in months}


async def _money_is_stripes(revenue: httpx.AsyncClient, tokens: Tokens, story: Story) -> None:
    """The summary, each payout, and the platform's overview of the agency, as Stripe's
    balance transactions say."""
    shop = story.shop
    whole = await settled_summary(revenue, tokens, shop)  # equal to Stripe's, or it fails
    assert await check_payouts(revenue, tokens, shop) > 0  # each equal to what it settled
    days = days_of(whole)
    owner = tokens.headers("owner", shop.agency_id)
    summary = (await revenue.get("/v1/revenue/summary", params=days, headers=owner)).json()
    operator = tokens.headers("platform_operator")
    row, _, _ = await agency_in_overview(revenue, operator, days, shop.agency_id)
    assert row["gmv_cents"] == summary["gross_cents"] == whole["gross_cents"]
    assert row["platform_fees_cents"] == summary["platform_fee_cents"]
    assert row["platform_fees_cents"] == await asyncio.to_thread(platform_fees_earned, shop)
    assert row["mrr_cents"] == sum(story.expected_mrr(_end(_month(_last_day(days)))).values())
    assert row["decline_rate"] == 0.0
    assert row["dispute_rate"] == 0.0


def _last_day(days: dict[str, str]) -> int:
    return int(datetime.fromisoformat(days["to"]).replace(tzinfo=UTC).timestamp())
