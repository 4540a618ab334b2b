"""The manual retry survives ``kill -9`` between any two of its steps: a runner process is
killed right after each Stripe call, before its result is committed, and the next runner
takes over from what was committed — the invoice ends paid exactly once and the payout
schedule as it was.

The runners run ``python -m invoicing retries`` against a database of their own (the
stack's invoicing service never sees this retry), on the stack's Stripe emulator."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncEngine

from billing_devstack import Infra
from invoicing.saas_fees.service.retries import STRIPE_STEPS
from tests.helpers.databases import connect
from tests.helpers.saas_fees.retries import retry_row, run_retries, start_retry
from tests.helpers.saas_fees.steps import (
    DAY,
    advance_clock,
    available,
    balance_billed_account,
    card_payment,
    failed_balance_invoice,
    payout_schedule,
    retire,
    set_payout_schedule,
    start_on_monday,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


async def test_a_retry_killed_after_each_stripe_call_ends_paid_once(
    retries_db: tuple[str, AsyncEngine],
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
) -> None:
    url, engine = retries_db
    assert infra.stripe_api_base is not None
    await start_on_monday(emulator)  # Stripe's own retries stay out of the way (Tue, Sun)
    account = await asyncio.to_thread(balance_billed_account, stripe_sdk, infra.stripe_api_base)
    invoice = await asyncio.to_thread(failed_balance_invoice, stripe_sdk, account)
    set_payout_schedule(stripe_sdk, account, interval="weekly", weekly_anchor="wednesday")
    before = payout_schedule(stripe_sdk, account)
    retry = await start_retry(engine, infra.stripe_api_base, account, invoice)
    seen: list[str] = []
    for crash_after in STRIPE_STEPS:
        if crash_after == "pay":  # funds arrive while the retry waits for them
            card_payment(stripe_sdk, account, 10_000)
            await advance_clock(emulator, 3 * DAY)
        ran = await asyncio.to_thread(run_retries, url, infra.stripe_api_base, crash_after)
        assert ran.returncode == -9, ran.stderr[-2000:]
        assert f"crashing after {crash_after}" in ran.stdout
        seen.append((await retry_row(engine, retry.id)).state)
    ran = await asyncio.to_thread(run_retries, url, infra.stripe_api_base, None)
    assert ran.returncode == 0, ran.stderr[-2000:]

    # Each crash lost only the step in flight: the state committed before it.
    assert seen == [
        "payouts_paused",  # the schedule read was lost
        "payouts_paused",  # schedule recorded; the pause to manual was lost (done again)
        "waiting_for_funds",  # the balance read was lost
        "paying",  # the payment was made but not recorded: made again, same key
        "restoring_payouts",  # the schedule was put back but not recorded
    ]
    done = await retry_row(engine, retry.id)
    assert (done.state, done.outcome, done.pay_attempts) == ("succeeded", "succeeded", 0)
    assert stripe_sdk.v1.invoices.retrieve(invoice.id).status == "paid"
    paid = stripe_sdk.v1.invoice_payments.list(params={"invoice": invoice.id, "status": "paid"})
    assert len(paid.data) == 1
    assert available(stripe_sdk, account) == 10_000 - 320 - 4900  # debited exactly once
    assert payout_schedule(stripe_sdk, account) == before
    conn = await connect(url)
    try:
        steps = [
            row["step"]
            for row in await conn.fetch(
                "SELECT step FROM invoicing.collection_retry_steps WHERE retry_id = $1 ORDER BY id",
                retry.id,
            )
        ]
    finally:
        await conn.close()
    assert steps == [
        "started",
        "schedule_recorded",
        "payouts_paused",
        "balance_checked",
        "paid",
        "payouts_restored",
    ]
    retire(stripe_sdk, account)
