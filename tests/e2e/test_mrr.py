"""MRR through the whole stack against the emulator: a monthly retainer and a yearly one
started, the monthly one migrated up and later down, the yearly one cancelled and its
workspace back on a new subscription, across emulator months. Every month's MRR and
movement equals what Stripe's objects say (when each first invoice was paid, when each
price changed, when the cancellation happened), to the cent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.revenue.money import Shop, new_workspace_id, open_shop
from tests.support.tokens import Tokens
from tests.support.waiting import eventually

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


async def test_mrr_and_its_movements_equal_what_stripe_says_month_by_month(
    services: dict[str, str], infra: Infra, tokens: Tokens
) -> None:
    assert infra.stripe_api_base is not None
    sdk = stripe.StripeClient("sk_test_emulator", base_addresses={"api": infra.stripe_api_base})
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
        shop: Shop = await open_shop(sdk, emulator)

        async def step(days: int) -> None:
            moved = await emulator.post("/_emulator/clock/advance", json={"seconds": days * DAY})
            assert moved.status_code == 200, moved.text

        async def run(call: Callable[..., Any], *args: Any) -> Any:
            return await asyncio.to_thread(call, *args)

        ws_a, ws_b = new_workspace_id(), new_workspace_id()
        monthly = await run(shop.subscription, ws_a, MONTHLY)
        yearly = await run(shop.subscription, ws_b, YEARLY, "year")
        await step(40)
        up_at = await run(shop.migrate, monthly, UP)
        await step(35)
        cancelled_at = await run(shop.cancel, yearly)
        await step(33)
        down_at = await run(shop.migrate, monthly, DOWN)
        again = await run(shop.subscription, ws_b, AGAIN)
        await step(32)
        paid = {sub: await run(shop.first_paid_at, sub) for sub in (monthly, yearly, again)}

    yearly_monthly = YEARLY // 12 + (1 if YEARLY % 12 * 2 >= 12 else 0)  # half-up
    first, last = _month(paid[monthly]), _month(paid[again] + 31 * DAY)

    def expected_mrr(end: int) -> dict[str, int]:
        """Each subscription's MRR just before ``end``, from Stripe's times."""
        found = {}
        if paid[monthly] < end:
            found[monthly] = DOWN if down_at < end else UP if up_at < end else MONTHLY
        if paid[yearly] < end and cancelled_at >= end:
            found[yearly] = yearly_monthly
        if paid[again] < end:
            found[again] = AGAIN
        return found

    owner = tokens.headers("owner", shop.agency_id)
    query = {"from": first.strftime("%Y-%m"), "to": last.strftime("%Y-%m")}
    months = _months(first, last)
    wanted = [sum(expected_mrr(_end(m)).values()) for m in months]
    seen: dict[str, Any] = {}

    async def settled() -> bool:
        nonlocal seen
        async with httpx.AsyncClient(base_url=services["revenue"], timeout=30) as revenue:
            seen = (await revenue.get("/v1/revenue/mrr", params=query, headers=owner)).json()
        return [m["mrr_cents"] for m in seen["months"]] == wanted

    try:
        await eventually(settled, within=90)
    except TimeoutError:
        pytest.fail(f"MRR {[m['mrr_cents'] for m in seen['months']]} never became {wanted}")
    previous: dict[str, int] = {}
    for month, row in zip(months, seen["months"], strict=True):
        now = expected_mrr(_end(month))
        new = sum(v for s, v in now.items() if s not in previous and s != again)
        back = now.get(again, 0) if again not in previous else 0  # ws_b had churned
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
