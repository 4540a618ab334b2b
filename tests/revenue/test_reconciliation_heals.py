"""Against the running stack and the Stripe emulator: a refund that fails later gives the
money back (the summary equals the account's balance transactions to the cent, the invoice
mirror's refunded total goes back down), and a movement the consumers never got is healed
by the scheduled reconciliation — counted once, even when its late event comes too."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from billing_contracts.billing_payments import STRIPE_PAYMENTS, StripeRefundSnapshot
from billing_devstack import Infra
from billing_kit.db import create_engine, session_factory, unit_of_work
from revenue import repository
from revenue.rules import day_of, rollup_delta
from tests.helpers.databases import connect
from tests.helpers.kafka import publish
from tests.helpers.revenue.figures import FIGURES, summary_of
from tests.helpers.revenue.money import (
    LEDGER_TYPES,
    Shop,
    expected_summary,
    new_workspace_id,
    open_shop,
)
from tests.helpers.revenue.replay import events_of_account
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def shop(infra: Infra) -> AsyncIterator[Shop]:
    assert infra.stripe_api_base is not None
    sdk = emulator_sdk(infra.stripe_api_base)
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
        yield await open_shop(sdk, emulator)


async def _matches_stripe(
    revenue: httpx.AsyncClient, tokens: Tokens, shop: Shop, *, checked_after: datetime
) -> dict[str, Any]:
    """The summary once it equals the account's balance transactions to the cent and a
    check that ended after ``checked_after`` found the ledger reconciled."""
    expected = expected_summary(await asyncio.to_thread(shop.balance_transactions))
    seen: dict[str, Any] = {}

    async def agrees() -> bool:
        seen.update(await summary_of(revenue, tokens, shop))
        checked = seen["reconciliation"]
        return (
            {name: seen[name] for name in FIGURES} == expected
            and checked["status"] == "reconciled"
            and datetime.fromisoformat(checked["checked_at"]) > checked_after
        )

    try:
        await eventually(agrees, within=60)
    except TimeoutError:
        pytest.fail(f"summary {seen} never matched Stripe's {expected}, reconciled")
    return seen


async def _ledger_rows(infra: Infra, agency_id: str) -> dict[str, int]:
    conn = await connect(infra.database_url)
    try:
        rows = await conn.fetch(
            "SELECT entry_id, count(*) AS n FROM revenue.ledger_entries"
            " WHERE agency_id = $1 GROUP BY entry_id",
            agency_id,
        )
    finally:
        await conn.close()
    return {row["entry_id"]: row["n"] for row in rows}


async def test_a_refund_that_fails_later_gives_the_money_back(
    revenue: httpx.AsyncClient, services: dict[str, str], infra: Infra, tokens: Tokens, shop: Shop
) -> None:
    began = datetime.now(UTC)
    workspace = new_workspace_id()
    invoice = await asyncio.to_thread(shop.one_off, workspace, 120_000, "pm_card_refundFail")
    charge = await asyncio.to_thread(shop.charge_of, invoice)
    refund = shop.sdk.v1.refunds.create(
        params={"charge": charge, "amount": 20_000}, options=shop.on_account
    )
    assert shop.sdk.v1.refunds.retrieve(refund.id, options=shop.on_account).status == "failed"
    moves = await asyncio.to_thread(shop.balance_transactions)
    assert sorted(t["type"] for t in moves) == ["charge", "refund", "refund_failure"]

    summary = await _matches_stripe(revenue, tokens, shop, checked_after=began)
    assert summary["gross_cents"] == 120_000
    assert summary["refunded_cents"] == 0  # refunded, then given back
    assert summary["net_cents"] == sum(t["net"] for t in moves)
    rows = await _ledger_rows(infra, shop.agency_id)
    assert sorted(rows) == sorted(t["id"] for t in moves)
    assert set(rows.values()) == {1}

    # The invoice mirror heard of the refund (20,000 refunded) and of its failure: 0.
    conn = await connect(infra.database_url)

    async def mirrored() -> bool:
        found = await conn.fetchrow(
            "SELECT p.refunded_by_charge, p.amount_refunded, r.failed"
            " FROM invoicing.payments AS p JOIN invoicing.refunds AS r USING (payment_intent_id)"
            " WHERE r.refund_id = $1",
            refund.id,
        )
        return found is not None and tuple(found) == (20_000, 0, True)

    try:
        await eventually(mirrored, within=30)
    finally:
        await conn.close()
    owner = tokens.headers("owner", shop.agency_id)
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as invoicing:
        listed = await invoicing.get(f"/v1/workspaces/{workspace}/invoices", headers=owner)
    assert listed.status_code == 200, listed.text
    [shown] = listed.json()["data"]
    assert (shown["status"], shown["amount_refunded_cents"]) == ("paid", 0)


async def _forget(infra: Infra, entry_id: str) -> None:
    """The entry as if its events had never reached revenue: out of the ledger and of its
    rollups."""
    engine = create_engine(infra.database_url, pool_size=1)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            entry = await repository.ledger_entry(session, entry_id)
            assert entry is not None
            delta = rollup_delta(
                entry.kind, entry.gross_cents, entry.stripe_fee_cents, entry.platform_fee_cents,
                entry.net_cents,
            )  # fmt: skip
            repository.add_to_rollups(
                session,
                agency_id=entry.agency_id,
                workspace_id=entry.workspace_id or "",
                day=day_of(entry.occurred_at),
                currency=entry.currency,
                delta={name: -value for name, value in delta.items()},
                entries=-1,
            )
            await session.delete(entry)
    finally:
        await engine.dispose()


async def _healed(revenue: httpx.AsyncClient) -> float:
    """``reconciliation_differences_total`` of movements found missing, as revenue counts."""
    text = (await revenue.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("reconciliation_differences_total{") and 'kind="missing"' in line
    )


async def test_movements_the_consumers_never_got_are_healed_on_schedule_and_counted_once(
    revenue: httpx.AsyncClient, infra: Infra, tokens: Tokens, shop: Shop
) -> None:
    began = datetime.now(UTC)
    workspace, on_account = new_workspace_id(), shop.on_account
    # A refund (the platform fee refunded with it), a dispute won, a refund that failed.
    charge = await asyncio.to_thread(shop.charge_of, shop.one_off(workspace, 50_000))
    refund = shop.sdk.v1.refunds.create(
        params={"charge": charge, "amount": 10_000, "refund_application_fee": True},
        options=on_account,
    )
    disputed = await asyncio.to_thread(
        shop.charge_of, shop.one_off(workspace, 30_000, "pm_card_createDispute")
    )
    [dispute] = shop.sdk.v1.disputes.list(params={"charge": disputed}, options=on_account).data
    shop.sdk.v1.disputes.update(
        dispute.id, params={"evidence": {"uncategorized_text": "winning_evidence"}},
        options=on_account,
    )  # fmt: skip
    failing = await asyncio.to_thread(
        shop.charge_of, shop.one_off(workspace, 20_000, "pm_card_refundFail")
    )
    shop.sdk.v1.refunds.create(params={"charge": failing}, options=on_account)
    await _matches_stripe(revenue, tokens, shop, checked_after=began)
    moves = [t for t in await asyncio.to_thread(shop.balance_transactions)]
    forgotten = [t for t in moves if t["type"] in LEDGER_TYPES - {"charge", "payment"}]
    kinds = sorted((t["type"], t["reporting_category"]) for t in forgotten)
    assert kinds == [
        ("adjustment", "dispute"), ("adjustment", "dispute_reversal"),
        ("application_fee_refund", "application_fee_refund"), ("refund", "refund"),
        ("refund", "refund"), ("refund_failure", "refund_failure"),
    ]  # fmt: skip
    healed_before = await _healed(revenue)

    for txn in forgotten:
        await _forget(infra, txn["id"])
    forgot = datetime.now(UTC)
    # No operator command: the scheduled checks find them missing and record them.
    summary = await _matches_stripe(revenue, tokens, shop, checked_after=forgot)
    assert summary["refunded_cents"] == 10_000
    assert summary["disputed_cents"] == 0
    rows = await _ledger_rows(infra, shop.agency_id)
    assert rows == {t["id"]: 1 for t in moves if t["type"] in LEDGER_TYPES}
    assert await _healed(revenue) >= healed_before + len(forgotten)

    # The refund's events come again (Stripe redelivers, under new ids): nothing changes.
    late = [
        event.model_copy(update={"event_id": uuid.uuid4()})
        for topic, event in await events_of_account(infra.kafka_bootstrap, shop.account_id)
        if isinstance(event.payload, StripeRefundSnapshot) and event.payload.refund_id == refund.id
    ]
    assert late
    await publish(infra.kafka_bootstrap, STRIPE_PAYMENTS, *late)
    conn = await connect(infra.database_url)

    async def consumed() -> bool:
        done = await conn.fetchval(
            "SELECT count(*) FROM revenue.inbox WHERE event_id = ANY($1::uuid[])",
            [event.event_id for event in late],
        )
        return bool(done == len(late))

    try:
        await eventually(consumed, within=30)
    finally:
        await conn.close()
    again = await summary_of(revenue, tokens, shop)
    assert {name: again[name] for name in FIGURES} == {name: summary[name] for name in FIGURES}
    assert await _ledger_rows(infra, shop.agency_id) == rows


async def _checks(revenue: httpx.AsyncClient, outcome: str) -> float:
    text = (await revenue.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("reconciliation_checks_total{") and f'outcome="{outcome}"' in line
    )


async def test_after_stripe_was_away_the_accounts_are_checked_again(
    revenue: httpx.AsyncClient, infra: Infra, tokens: Tokens, shop: Shop
) -> None:
    began = datetime.now(UTC)
    charge = await asyncio.to_thread(shop.charge_of, shop.one_off(new_workspace_id(), 40_000))
    shop.sdk.v1.refunds.create(params={"charge": charge, "amount": 5_000}, options=shop.on_account)
    await _matches_stripe(revenue, tokens, shop, checked_after=began)
    [refunded] = [
        t for t in await asyncio.to_thread(shop.balance_transactions) if t["type"] == "refund"
    ]
    failed_before = await _checks(revenue, "failed")

    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
        away = {
            "count": 100_000,
            "status": 500,
            "path": "/v1/balance_transactions",
            "method": "GET",
        }
        armed = await emulator.post("/_emulator/faults", json={"fail_next": away})
        assert armed.status_code == 200, armed.text
        try:
            await _forget(infra, refunded["id"])

            async def seen_away() -> bool:
                return await _checks(revenue, "failed") > failed_before

            await eventually(seen_away, within=60)  # logged and counted, the service up
            assert (await revenue.get("/livez")).status_code == 200
        finally:
            cleared = await emulator.delete("/_emulator/faults")
            assert cleared.status_code == 200, cleared.text
    back = datetime.now(UTC)
    summary = await _matches_stripe(revenue, tokens, shop, checked_after=back)
    assert summary["refunded_cents"] == 5_000
