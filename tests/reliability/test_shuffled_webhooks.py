"""Stripe does not order its events and sends some twice. Two agencies make the same money
(subscriptions renewed, one-off invoices, refunds, disputes, declines) for 50 workspaces;
one agency's webhooks arrive once each, in order, the other's shuffled with 30 % of them
twice — over 10,000 signed webhooks in all. The revenue summaries and invoice mirrors of the
two agencies are equal to the cent, and each equals Stripe's own figures: nothing missing,
nothing counted twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from tests.helpers.reliability.rig import Rig
from tests.helpers.reliability.traffic import (
    FIGURES,
    Plan,
    deliver,
    ledger_rows,
    ledger_transactions,
    mirror_of,
    money_and_its_events,
    shuffled_with_repeats,
    stripe_invoices,
    summary_of,
)
from tests.helpers.revenue.money import Shop, expected_summary, open_shop
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stress]

PLAN = Plan(workspaces=25, one_offs=12)
WEBHOOKS = 10_000


async def _settled(
    rig: Rig, shop: Shop, workspace_ids: list[str]
) -> tuple[dict[str, Any], list[list[tuple[Any, ...]]]]:
    """The shop's summary and mirror once they agree with Stripe (fails showing the gap)."""
    expected = expected_summary(ledger_transactions(shop))
    invoices = stripe_invoices(shop)
    seen: dict[str, Any] = {}

    async def agrees() -> bool:
        summary = await summary_of(rig, shop, workspace_ids)
        ids, figures = await mirror_of(rig, shop, workspace_ids)
        seen.update(summary=summary, figures=figures, ids=ids)
        return {name: summary[name] for name in FIGURES} == expected and ids == invoices

    try:
        await eventually(agrees, within=360)
    except TimeoutError:
        summary = {name: seen.get("summary", {}).get(name) for name in FIGURES}
        missing = sorted(set(invoices) - set(seen.get("ids", [])))[:5]
        pytest.fail(f"{shop.agency_id}: summary {summary} != Stripe's {expected}; "
                    f"{len(seen.get('ids', []))}/{len(invoices)} invoices as on Stripe, "
                    f"e.g. missing {missing}")  # fmt: skip
    assert await ledger_rows(rig.infra.database_url, shop.agency_id) == len(
        ledger_transactions(shop)
    )
    return seen["summary"], seen["figures"]


@pytest.mark.timeout(900)
async def test_shuffled_and_repeated_webhooks_give_the_in_order_figures(rig: Rig) -> None:
    in_order, shuffled = [await open_shop(rig.sdk, rig.emulator) for _ in range(2)]
    workspaces = {
        shop.agency_id: [f"ws-{shop.agency_id[-6:]}-{i:02d}" for i in range(PLAN.workspaces)]
        for shop in (in_order, shuffled)
    }
    began = time.monotonic()
    # Subscriptions, one-offs, refunds, disputes, declines; a month later every renewal.
    events = await money_and_its_events(rig, [in_order, shuffled], PLAN, workspaces, renew=True)
    made = time.monotonic() - began
    ordered = events[in_order.account_id]
    mixed = shuffled_with_repeats(events[shuffled.account_id], seed=20261123)
    assert len(ordered) + len(mixed) >= WEBHOOKS, (len(ordered), len(mixed))

    began = time.monotonic()
    ingest = rig.urls["webhook-ingest"]
    answers = await asyncio.gather(deliver(ingest, ordered), deliver(ingest, mixed, parallel=8))
    delivered = time.monotonic() - began
    assert {code for codes in answers for code in codes} == {200}

    mine = await _settled(rig, in_order, workspaces[in_order.agency_id])
    theirs = await _settled(rig, shuffled, workspaces[shuffled.agency_id])
    settled = time.monotonic() - began
    print(f"\n{len(ordered) + len(mixed)} webhooks: made in {made:.1f}s, delivered in "
          f"{delivered:.1f}s, settled after {settled:.1f}s")  # fmt: skip

    summary, figures = mine
    their_summary, their_figures = theirs
    assert their_summary == summary
    if (
        their_figures != figures
    ):  # a figure told by a later event (a charge's fee) may be on its way
        mirrors: list[Any] = []

        async def same_mirrors() -> bool:
            mirrors[:] = [
                (await mirror_of(rig, shop, workspaces[shop.agency_id]))[1]
                for shop in (in_order, shuffled)
            ]
            return bool(mirrors[0] == mirrors[1])

        with contextlib.suppress(TimeoutError):
            await eventually(same_mirrors, within=60)
        figures, their_figures = mirrors
    assert their_figures == figures
    assert summary["refunded_cents"] > 0
    assert summary["disputed_cents"] > 0
