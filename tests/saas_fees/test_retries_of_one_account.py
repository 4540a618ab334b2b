"""Two failed SaaS-fee invoices of one agency retried together: one saga pauses the agency's
payouts at a time, and the payouts end on the schedule the agency had before the first
pause, however the two retries are started and run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncEngine

from billing_devstack import Infra
from billing_kit.db import session_factory, unit_of_work
from invoicing.saas_fees import repository
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

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def test_a_second_retry_started_while_payouts_are_paused_ends_on_the_original_schedule(
    retries_db: tuple[str, AsyncEngine],
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
) -> None:
    url, engine = retries_db
    base = infra.stripe_api_base
    assert base is not None
    await start_on_monday(emulator)  # Stripe's own retries stay out of the way (Tue, Sun)
    account = await asyncio.to_thread(balance_billed_account, stripe_sdk, base)
    first = await asyncio.to_thread(failed_balance_invoice, stripe_sdk, account, 4900)
    second = await asyncio.to_thread(failed_balance_invoice, stripe_sdk, account, 2900)
    set_payout_schedule(stripe_sdk, account, interval="weekly", weekly_anchor="wednesday")
    before = payout_schedule(stripe_sdk, account)

    # The first retry pauses the payouts and waits for funds ...
    one = await start_retry(engine, base, account, first)
    ran = await asyncio.to_thread(run_retries, url, base, None)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (await retry_row(engine, one.id)).state == "waiting_for_funds"
    assert payout_schedule(stripe_sdk, account)["interval"] == "manual"

    # ... when the second is started: it waits its turn instead of recording "manual".
    two = await start_retry(engine, base, account, second)
    ran = await asyncio.to_thread(run_retries, url, base, None)
    assert ran.returncode == 0, ran.stderr[-2000:]
    waiting = await retry_row(engine, two.id)
    assert (waiting.state, waiting.previous_schedule) == ("payouts_paused", None)

    card_payment(stripe_sdk, account, 20_000)
    await advance_clock(emulator, 3 * DAY)
    async with unit_of_work(session_factory(engine)) as session:  # as ``balance.available`` does
        await repository.signal_funds(session, account, datetime.now(UTC))
    ran = await asyncio.to_thread(run_retries, url, base, None)
    assert ran.returncode == 0, ran.stderr[-2000:]

    done = [await retry_row(engine, retry.id) for retry in (one, two)]
    assert [(retry.state, retry.outcome) for retry in done] == [("succeeded", "succeeded")] * 2
    assert [stripe_sdk.v1.invoices.retrieve(i.id).status for i in (first, second)] == ["paid"] * 2
    assert available(stripe_sdk, account) == 20_000 - 610 - 4900 - 2900
    assert payout_schedule(stripe_sdk, account) == before
    conn = await connect(url)
    try:
        steps = {
            retry.id: [
                row["step"]
                for row in await conn.fetch(
                    "SELECT step FROM invoicing.collection_retry_steps"
                    " WHERE retry_id = $1 ORDER BY id",
                    retry.id,
                )
            ]
            for retry in (one, two)
        }
    finally:
        await conn.close()
    assert steps[one.id][-2:] == ["paid", "payouts_handed_over"]
    assert steps[two.id][-2:] == ["paid", "payouts_restored"]
    assert "schedule_recorded" not in steps[two.id]  # it took the first one's recorded schedule
    retire(stripe_sdk, account)
