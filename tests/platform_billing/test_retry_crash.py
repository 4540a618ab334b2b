"""The manual retry survives ``kill -9`` between any two of its steps: a runner process is
killed right after each Stripe call, before its result is committed, and the next runner
takes over from what was committed — the invoice ends paid exactly once and the payout
schedule as it was.

The runners run ``python -m invoicing.fee_retries`` against a database of their own (the
stack's invoicing service never sees this retry), on the stack's Stripe emulator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncEngine

from billing_devstack import Infra
from billing_kit.db import create_engine, session_factory, unit_of_work
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from invoicing.fee_collections import Collections
from invoicing.fee_gateway import CollectionsStripe
from invoicing.fee_retries import STRIPE_STEPS
from invoicing.models import Collection, CollectionRetry, kit_tables
from tests.platform_billing.helpers import (
    DAY,
    advance_clock,
    available,
    card_payment,
    payout_schedule,
    retire,
    set_payout_schedule,
    start_on_monday,
)
from tests.support.databases import connect, migrated_database

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
async def retries_db(infra: Infra) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = await migrated_database(infra.database_url, "invoicing")
    engine = create_engine(url, pool_size=1)
    try:
        yield url, engine
    finally:
        await engine.dispose()


def _failed_balance_invoice(sdk: stripe.StripeClient, emulator_url: str) -> tuple[str, Any]:
    """An onboarded agency (as catalog makes them) whose plan invoice failed for funds."""
    account = sdk.v1.accounts.create(params={"type": "express", "email": "a@example.com"})
    httpx.post(
        f"{emulator_url}/_emulator/accounts/{account.id}/complete_onboarding"
    ).raise_for_status()
    sdk.v2.core.accounts.update(
        account.id,
        params={"configuration": {"customer": {}, "merchant": {}}},
    )
    product = sdk.v1.products.create(params={"name": "Studio"})
    price = sdk.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 4900,
            "recurring": {"interval": "month"},
        }
    )
    setup = sdk.v1.setup_intents.create(
        params={
            "allowed_payment_method_types": ["stripe_balance"],
            "customer_account": account.id,
            "confirm": True,
            "usage": "off_session",
        }
    )
    params: Any = {
        "customer_account": account.id,
        "items": [{"price": price.id}],
        "default_payment_method": setup.payment_method,
        "payment_settings": {"payment_method_types": ["stripe_balance"]},
        "expand": ["latest_invoice"],
    }
    sub = sdk.v1.subscriptions.create(params=params)
    invoice = sub.latest_invoice
    assert isinstance(invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    return account.id, invoice


def _runner(
    database_url: str, stripe_api_base: str, crash_after: str | None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STRIPE_API_BASE": stripe_api_base,
        "BILLING_ENV": "development",
    }
    command = [sys.executable, "-m", "invoicing.fee_retries", "--until-idle"]
    if crash_after is not None:
        command += ["--crash-after", crash_after]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def _retry(engine: AsyncEngine, retry_id: str) -> CollectionRetry:
    async with unit_of_work(session_factory(engine)) as session:
        found = await session.get(CollectionRetry, retry_id)
        assert found is not None
        return found


async def test_a_retry_killed_after_each_stripe_call_ends_paid_once(
    retries_db: tuple[str, AsyncEngine],
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
) -> None:
    url, engine = retries_db
    assert infra.stripe_api_base is not None
    await start_on_monday(emulator)  # Stripe's own retries stay out of the way (Tue, Sun)
    account, invoice = await asyncio.to_thread(
        _failed_balance_invoice, stripe_sdk, infra.stripe_api_base
    )
    set_payout_schedule(stripe_sdk, account, interval="weekly", weekly_anchor="wednesday")
    before = payout_schedule(stripe_sdk, account)
    invoice_id = str(uuid.uuid4())
    client = stripe_client("sk_test_emulator", infra.stripe_api_base)
    async with unit_of_work(session_factory(engine)) as session:
        session.add(
            Collection(
                id=invoice_id,
                stripe_invoice_id=invoice.id,
                stripe_account_id=account,
                stripe_subscription_id=invoice.to_dict()["subscription"],
                status="open",
                currency="usd",
                amount_due=4900,
                attempt_count=1,
                failure_code="insufficient_funds",
                stripe_created_at=datetime.now(UTC),
            )
        )
        await session.flush()
        retry = await Collections(
            session, Outbox(kit_tables.outbox), CollectionsStripe(client)
        ).start_retry(invoice_id)
    seen: list[str] = []
    for crash_after in STRIPE_STEPS:
        if crash_after == "pay":  # funds arrive while the retry waits for them
            card_payment(stripe_sdk, account, 10_000)
            await advance_clock(emulator, 3 * DAY)
        ran = await asyncio.to_thread(_runner, url, infra.stripe_api_base, crash_after)
        assert ran.returncode == -9, ran.stderr[-2000:]
        assert f"crashing after {crash_after}" in ran.stdout
        seen.append((await _retry(engine, retry.id)).state)
    ran = await asyncio.to_thread(_runner, url, infra.stripe_api_base, None)
    assert ran.returncode == 0, ran.stderr[-2000:]

    # Each crash lost only the step in flight: the state committed before it.
    assert seen == [
        "payouts_paused",  # the schedule read was lost
        "payouts_paused",  # schedule recorded; the pause to manual was lost (done again)
        "waiting_for_funds",  # the balance read was lost
        "paying",  # the payment was made but not recorded: made again, same key
        "restoring_payouts",  # the schedule was put back but not recorded
    ]
    done = await _retry(engine, retry.id)
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
