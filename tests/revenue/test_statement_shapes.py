"""revenue's batched consumers (invoices, the ledger) on a real database: a batch's
statements have the same text whatever its size (keys bound as one array, rows inserted from
one array per column), so that each is compiled, prepared on a connection and planned by
Postgres once, not once per batch size."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, NoReturn, cast

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import revenue.models
from billing_contracts import Event
from billing_contracts.billing_invoices import StripeInvoicePaid
from billing_contracts.billing_payments import StripeChargeSnapshot, StripeChargeSucceeded
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.inbox import Batched
from billing_kit.outbox import Outbox
from revenue import repository
from revenue.consumers import handlers
from revenue.stripe_gateway import RevenueStripe
from tests.helpers.databases import service_sessions
from tests.helpers.revenue.invoices import invoice_snapshot

pytestmark = [pytest.mark.integration]

Sessions = async_sessionmaker[AsyncSession]
SIZES = (2, 5, 9)
"""Payments a batch: each batch tells that many charges (and their invoices), alike but for
their ids."""
MOMENT = int(datetime(2026, 4, 7, 12, tzinfo=UTC).timestamp())


class _StripeAway:
    """Every read fails the test: the events carry what revenue needs."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"revenue asked Stripe ({name}) for what the event carries")


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[Sessions]:
    async with service_sessions(infra.database_url, "revenue") as made:
        yield made


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _paid_invoice(agency: str, account: str, invoice_id: str, n: int) -> Event:
    snapshot = invoice_snapshot(
        agency, account, _id("sub"), MOMENT + n, invoice_id=invoice_id, status="paid"
    )
    return StripeInvoicePaid(agency_id=agency, payload=snapshot)


def _charge(agency: str, account: str, invoice_id: str, n: int) -> Event:
    charge, txn = _id("ch"), _id("txn")
    figures = BalanceFigures(
        balance_transaction_id=txn, currency="usd", gross=5_000, net=4_800, created=MOMENT + n,
        stripe_fee=150, application_fee=50, type="charge", source=charge,
    )  # fmt: skip
    attribution = PaymentAttribution(
        charge_id=charge, payment_intent_id=_id("pi"), invoice_id=invoice_id,
        agency_id=agency, workspace_id="ws-health",
    )  # fmt: skip
    snapshot = StripeChargeSnapshot(
        stripe_event_id=_id("evt"), stripe_created=MOMENT + n, stripe_account_id=account,
        charge_id=charge, status="succeeded", paid=True, amount=5_000, currency="usd",
        balance_transaction_id=txn, created=MOMENT + n, figures=figures,
        attribution=attribution,
    )  # fmt: skip
    return StripeChargeSucceeded(agency_id=agency, payload=snapshot)


async def test_a_batch_s_statements_do_not_change_with_its_size(sessions: Sessions) -> None:
    consumers = handlers(
        Outbox(revenue.models.kit_tables.outbox), cast(RevenueStripe, _StripeAway())
    )
    engine = sessions.kw["bind"].sync_engine
    executed: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        executed.append(statement)

    async def apply(consumer: str, events: list[Event]) -> set[str]:
        _, handler = consumers[consumer]
        assert isinstance(handler, Batched)
        executed.clear()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            async with unit_of_work(sessions) as session:
                await handler.apply(session, events)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return set(executed)

    runs: dict[str, list[set[str]]] = {"invoices": [], "ledger": []}
    for size in SIZES:
        agency = _id("agency")
        shops = [(_id("acct"), _id("in")) for _ in range(size)]
        async with unit_of_work(sessions) as session:
            for account, _ in shops:
                await repository.remember_account(session, account, agency, owner=True)
        invoices = [_paid_invoice(agency, a, i, n) for n, (a, i) in enumerate(shops)]
        runs["invoices"].append(await apply("invoices", invoices))
        charges = [_charge(agency, a, i, n) for n, (a, i) in enumerate(shops)]
        runs["ledger"].append(await apply("ledger", charges))

    for consumer, texts in runs.items():
        print(consumer, "statement texts over every size:", len(set().union(*texts)))
    for consumer, texts in runs.items():
        smallest = texts[0]
        assert len(smallest) >= 3, consumer
        for size, found in zip(SIZES[1:], texts[1:], strict=True):
            assert found == smallest, (consumer, size, found ^ smallest)
