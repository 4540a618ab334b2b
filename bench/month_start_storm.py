"""Month-start storm: every client subscription of many agencies renews at the same moment,
and the pipeline (webhook-ingest → invoicing's invoice mirror and revenue's ledger) takes the
whole month's renewals at once.

Monthly subscriptions (one workspace each, paid by card automatically) are made on the
Stripe emulator over several connected accounts; their events are replayed through the
pipeline until the ledger holds every first payment (not timed). Then the emulator's clock
moves one month on in a single step, past every subscription's period end and the hour
Stripe leaves a renewal invoice in draft, so every subscription renews and its invoice is
charged. Every event of that step is offered signed to webhook-ingest as fast as it answers
(one sender per account, in Stripe's order). Printed, as one JSON line: seconds from the
first webhook until every renewal invoice Stripe charged is ``paid`` in the mirror and
counted in the ledger, events/s, CPU seconds per 1,000 events of each piece, the consumers'
outcomes, and the checks: every subscription's renewal charged by Stripe, ``paid`` in the
mirror and in the ledger once, each ledger entry carrying its Stripe balance transaction's
figures, and the ledger's gross equal to what the renewal invoices say was paid (``ok``
when all hold).

Moving the emulator's clock moves it for everything on the stack, so the benchmark runs on
a stack of its own (``.devstack/bench-storm``, its emulator keeping nothing across runs)
and cancels its subscriptions when done (on a shared stack, a later step renews none of
them again):

    uv run python -m bench.month_start_storm                      # 2,000 on 20 accounts
    uv run python -m bench.month_start_storm --subscriptions 400 --accounts 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.pipeline import (
    Payments,
    Pipeline,
    consumed_outcomes,
    cpu_per_thousand,
    emulator_now,
    events_since,
    ledger_entries,
    make_subscriptions,
    mirror_states,
    offer_in_streams,
    until,
)
from bench.tooling import locked_stack
from billing_devstack import Stack
from tests.helpers.databases import connect
from tests.helpers.revenue.money import Shop

FINALIZE_DELAY = 3600
"""Stripe finalizes (and charges) a renewal invoice an hour after the period ends."""
SLACK = 3600
"""Past the last renewal's finalizing: the emulator's clock keeps running at wall-clock speed
while it works through a step, so a renewal late in the step is stamped (and its invoice
falls due) as many seconds late as the step has lasted by then; what falls due after the
step's end waits for the next step (``emulator_renewals_stamped_late_s`` shows how late)."""


def _subscriptions(shop: Shop) -> list[dict[str, Any]]:
    page = shop.sdk.v1.subscriptions.list(params={"limit": 100}, options=shop.on_account)
    return [sub.to_dict() for sub in page.auto_paging_iter()]


def _renewal_invoices(shop: Shop) -> list[dict[str, Any]]:
    page = shop.sdk.v1.invoices.list(params={"limit": 100}, options=shop.on_account)
    invoices = (invoice.to_dict() for invoice in page.auto_paging_iter())
    return [invoice for invoice in invoices if invoice["billing_reason"] == "subscription_cycle"]


def advance_past_renewals(api_base: str, shops: list[Shop]) -> int:
    """Move the emulator's clock, in one step, past every subscription's period end and the
    hour its renewal invoice stays in draft (and ``SLACK``); the seconds it moved."""
    ends = [
        item["current_period_end"]
        for shop in shops
        for sub in _subscriptions(shop)
        for item in sub["items"]["data"]
    ]
    seconds = int(max(ends)) - emulator_now(api_base) + FINALIZE_DELAY + SLACK
    answer = httpx.post(
        f"{api_base}/_emulator/clock/advance", json={"seconds": seconds}, timeout=1800
    )
    answer.raise_for_status()
    return seconds


async def renewal_entries(database_url: str, invoice_ids: list[str]) -> list[dict[str, Any]]:
    """The ledger's entries for the given invoices."""
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT entry_id, charge_id, gross_cents, stripe_fee_cents, platform_fee_cents,"
            " net_cents FROM revenue.ledger_entries WHERE invoice_id = ANY($1::text[])",
            invoice_ids,
        )
        return [dict(row) for row in rows]
    finally:
        await conn.close()


def as_stripe_says(entries: list[dict[str, Any]], shops: list[Shop]) -> int:
    """How many of the ledger's entries carry exactly the figures of their Stripe balance
    transaction (the entry's id), whose source is the entry's charge."""
    said: dict[str, dict[str, Any]] = {}
    for shop in shops:
        said |= {txn["id"]: txn for txn in shop.balance_transactions()}

    def figures(txn: dict[str, Any]) -> tuple[Any, ...]:
        fees = {"stripe_fee": 0, "application_fee": 0}
        for detail in txn["fee_details"]:
            fees[detail["type"]] += detail["amount"]
        return (txn["source"], txn["amount"], fees["stripe_fee"], fees["application_fee"])

    return sum(
        1
        for entry in entries
        if entry["entry_id"] in said
        and figures(said[entry["entry_id"]])
        == (
            entry["charge_id"],
            entry["gross_cents"],
            entry["stripe_fee_cents"],
            entry["platform_fee_cents"],
        )
        and said[entry["entry_id"]]["net"] == entry["net_cents"]
    )


def _cancel(payments: Payments) -> None:
    """Cancel the storm's subscriptions: a later clock step renews none of them again."""

    def cancel(shop_and_sub: tuple[Shop, str]) -> None:
        shop, subscription = shop_and_sub
        shop.sdk.v1.subscriptions.cancel(subscription, options=shop.on_account)

    made = [(shop, sub["id"]) for shop in payments.shops for sub in _subscriptions(shop)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(cancel, made))


def measure(stack: Stack, accounts: int, subscriptions: int) -> dict[str, Any]:
    payments = make_subscriptions(stack, accounts, subscriptions)
    pipeline = Pipeline(stack, replicas=1)
    pipeline.start()
    try:
        return _storm(stack, pipeline, payments, subscriptions)
    finally:
        pipeline.stop()
        _cancel(payments)


def _storm(
    stack: Stack, pipeline: Pipeline, payments: Payments, subscriptions: int
) -> dict[str, Any]:
    api_base = stack.infra.stripe_api_base
    assert api_base is not None
    database_url = stack.infra.database_url
    agencies = payments.agency_ids
    ingest = pipeline.urls["webhook-ingest"]
    consumers = pipeline.urls["invoicing"] + pipeline.urls["revenue"]

    # The first month: every subscription's first payment in the ledger (not timed).
    began = time.perf_counter()
    asyncio.run(offer_in_streams(stack, ingest, payments.deliveries))

    async def first_payments() -> bool:
        return await ledger_entries(database_url, agencies) >= subscriptions

    if not asyncio.run(until(first_payments, within=600)):
        raise RuntimeError("the ledger never held every subscription's first payment")
    pipeline.wait_caught_up()
    _log(f"first payments in the ledger in {time.perf_counter() - began:.0f}s")

    # Month start: one clock step renews every subscription.
    since = emulator_now(api_base)
    began = time.perf_counter()
    advanced = advance_past_renewals(api_base, payments.shops)
    clock_step = time.perf_counter() - began
    renewals = {
        invoice["id"]: invoice for shop in payments.shops for invoice in _renewal_invoices(shop)
    }
    renewal_ids = list(renewals)
    paid = sum(1 for invoice in renewals.values() if invoice["status"] == "paid")
    deliveries = events_since(api_base, payments.shops, since)
    types = Counter(delivery.event_type for delivery in deliveries)
    _log(
        f"clock moved {advanced / 86400:.1f} days in {clock_step:.0f}s: "
        f"{len(renewals):,} renewal invoices ({paid:,} paid), {len(deliveries):,} events "
        f"{dict(types)}"
    )
    before = consumed_outcomes(consumers)
    cpu_before = pipeline.cpu_seconds()
    began = time.perf_counter()
    answers = asyncio.run(offer_in_streams(stack, ingest, deliveries))
    accepted = time.perf_counter() - began
    reached: dict[str, float] = {}

    async def renewals_done() -> bool:
        if "mirror" not in reached:
            states = await mirror_states(database_url, renewal_ids)
            if states.get("paid", 0) == paid:
                reached["mirror"] = time.perf_counter() - began
        if "ledger" not in reached:
            entries = await renewal_entries(database_url, renewal_ids)
            if len(entries) >= paid:
                reached["ledger"] = time.perf_counter() - began
        return len(reached) == 2

    complete = asyncio.run(until(renewals_done, within=600))
    elapsed = time.perf_counter() - began
    cpu_after = pipeline.cpu_seconds()
    pipeline.wait_caught_up()  # every consumer group's count is final
    after = consumed_outcomes(consumers)
    states = asyncio.run(mirror_states(database_url, renewal_ids))
    entries = asyncio.run(renewal_entries(database_url, renewal_ids))
    kinds = ("applied", "duplicate", "failed", "dead_lettered", *after)
    outcomes = {k: after.get(k, 0) - before.get(k, 0) for k in kinds}
    events = len(deliveries)
    checks = {
        "emulator_renewals_paid": paid,
        "emulator_renewals_stamped_late_s": max(
            (i["created"] - i["period_start"] for i in renewals.values()), default=0
        ),
        "mirror_renewals_paid": states.get("paid", 0),
        "ledger_renewal_entries": len(entries),
        "ledger_renewal_gross_cents": sum(entry["gross_cents"] for entry in entries),
        "stripe_renewal_amount_paid_cents": sum(i["amount_paid"] for i in renewals.values()),
        "ledger_entries_as_stripe_balance_transactions": as_stripe_says(entries, payments.shops),
        "ledger_entries_of_agencies": asyncio.run(ledger_entries(database_url, agencies)),
    }
    return {
        "bench": "month-start-storm",
        "accounts": len(payments.shops),
        "subscriptions": subscriptions,
        "renewals": len(renewals),
        "events": events,
        "clock_step_s": round(clock_step, 1),
        "answers": answers,
        "ingest_events_per_s": round(events / accepted),
        "complete": complete,
        "seconds_to_mirror_paid": round(reached.get("mirror", elapsed), 1),
        "seconds_to_ledger": round(reached.get("ledger", elapsed), 1),
        "seconds": round(elapsed, 1),
        "events_per_s": round(events / elapsed),
        "cpu_s_per_1000_events": cpu_per_thousand(cpu_before, cpu_after, events),
        "consumer_outcomes": outcomes,
        "checks": checks,
        "ok": complete
        and checks["emulator_renewals_paid"] == subscriptions
        and checks["mirror_renewals_paid"] == subscriptions
        and checks["ledger_renewal_entries"] == subscriptions
        and checks["ledger_entries_as_stripe_balance_transactions"] == subscriptions
        and checks["ledger_renewal_gross_cents"] == checks["stripe_renewal_amount_paid_cents"]
        and checks["ledger_entries_of_agencies"] == 2 * subscriptions
        and not any(outcomes.get(k, 0) for k in ("failed", "dead_lettered")),
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


STORM_STATE = "bench-storm"
"""The storm's stack of its own: its emulator's clock jumps a month."""


def bench_month_start_storm(stack: Stack, accounts: int = 20, subscriptions: int = 2000) -> None:
    print(json.dumps(measure(stack, accounts, subscriptions)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--subscriptions", type=int, default=2000)
    args = parser.parse_args()
    with locked_stack("bench.month_start_storm", state=STORM_STATE) as stack:
        bench_month_start_storm(stack, args.accounts, args.subscriptions)


if __name__ == "__main__":
    main()
