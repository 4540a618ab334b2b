"""The ledger from what payment events carry, on a real database and with a Stripe that must
not be called: an entry's day is its balance transaction's ``created`` whatever event told
of it, a dispute's and a refunded fee's movements come from the event, and the invoice and
workspace a charge belongs to come from the event's attribution."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any, NoReturn, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import revenue.models
from billing_contracts import Event
from billing_contracts.billing_payments import (
    StripeApplicationFeeRefunded,
    StripeApplicationFeeSnapshot,
    StripeChargeSnapshot,
    StripeChargeSucceeded,
    StripeDisputeClosed,
    StripeDisputeFundsWithdrawn,
    StripeDisputeSnapshot,
    StripePaymentIntentSnapshot,
    StripePaymentIntentSucceeded,
)
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.outbox import Outbox
from revenue import repository
from revenue.consumers import apply_payment_events
from revenue.models import LedgerEntry, PaymentLink
from revenue.rules import FIRST_PAGE
from revenue.service.ledger import Ledger
from revenue.stripe_gateway import RevenueStripe
from tests.helpers.databases import service_sessions

pytestmark = [pytest.mark.integration]

Sessions = async_sessionmaker[AsyncSession]


class _StripeAway:
    """Every read fails the test: the events carry what the ledger needs."""

    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"revenue asked Stripe ({name}) for what the event carries")


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[Sessions]:
    async with service_sessions(infra.database_url, "revenue") as made:
        yield made


def _unix(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _figures(txn: str, gross: int, created: int, **fields: Any) -> BalanceFigures:
    fees = {"stripe_fee": 0, "application_fee": 0} | fields.pop("fees", {})
    net = gross - fees["stripe_fee"] - fees["application_fee"]
    return BalanceFigures(
        balance_transaction_id=txn,
        currency="usd",
        gross=gross,
        net=net,
        created=created,
        **fees,
        **fields,
    )


class _Shop:
    """One agency's connected account, a charge of it and where that charge belongs."""

    def __init__(self) -> None:
        self.agency, self.account = _id("agency"), _id("acct")
        self.charge, self.intent, self.invoice = _id("ch"), _id("pi"), _id("in")
        self.attribution = PaymentAttribution(
            charge_id=self.charge,
            payment_intent_id=self.intent,
            invoice_id=self.invoice,
            subscription_id=None,
            invoice_created=_unix(2026, 1, 30),
            agency_id=self.agency,
            workspace_id="ws-told",
        )

    def event(self, kind: Any, payload: Any, stripe_created: int) -> Event:
        facts = {
            "stripe_event_id": _id("evt"),
            "stripe_created": stripe_created,
            "stripe_account_id": self.account,
        }
        made: Event = kind(
            occurred_at=datetime.fromtimestamp(stripe_created, UTC),
            agency_id=self.agency,
            payload=type(payload).model_validate(payload.model_dump() | facts),
        )
        return made


Apply = Callable[..., Awaitable[None]]


@pytest.fixture(params=["event by event", "as one batch"])
def apply(request: pytest.FixtureRequest, sessions: Sessions) -> Apply:
    """Apply events as the consumer does: each in a transaction of its own, or all in one
    batch (the inbox drops a second copy of an event from a batch) — the same outcome."""
    outbox = Outbox(revenue.models.kit_tables.outbox)
    stripe = cast(RevenueStripe, _StripeAway())

    async def one_by_one(*events: Event) -> None:
        for event in events:
            async with unit_of_work(sessions) as session:
                await apply_payment_events(Ledger.of(session, outbox, stripe), [event])

    async def batched(*events: Event) -> None:
        once: dict[uuid.UUID, Event] = {}
        for event in events:
            once.setdefault(event.event_id, event)
        async with unit_of_work(sessions) as session:
            await apply_payment_events(Ledger.of(session, outbox, stripe), list(once.values()))

    return one_by_one if request.param == "event by event" else batched


async def _entry(sessions: Sessions, entry_id: str) -> LedgerEntry:
    async with unit_of_work(sessions) as session:
        found = await session.get(LedgerEntry, entry_id)
    assert found is not None, entry_id
    return found


async def _summary(sessions: Sessions, agency: str, start: date, end: date) -> dict[str, Any]:
    async with unit_of_work(sessions) as session:
        found: dict[str, Any] = json.loads(
            await repository.summary_json(session, agency, "usd", start, end, FIRST_PAGE)
        )
    return found


def _intent(shop: _Shop, figures: BalanceFigures) -> StripePaymentIntentSnapshot:
    return StripePaymentIntentSnapshot(
        stripe_event_id="",
        stripe_created=0,
        payment_intent_id=shop.intent,
        status="succeeded",
        amount=figures.gross,
        amount_received=figures.gross,
        currency="usd",
        latest_charge_id=shop.charge,
        figures=figures,
        attribution=shop.attribution,
    )


def _charge(shop: _Shop, figures: BalanceFigures, created: int) -> StripeChargeSnapshot:
    return StripeChargeSnapshot(
        stripe_event_id="",
        stripe_created=0,
        charge_id=shop.charge,
        status="succeeded",
        paid=True,
        amount=figures.gross,
        currency="usd",
        payment_intent_id=shop.intent,
        balance_transaction_id=figures.balance_transaction_id,
        created=created,
        figures=figures,
        attribution=shop.attribution,
    )


async def test_a_payment_lands_on_its_balance_transaction_s_day_whatever_event_tells_it(
    sessions: Sessions, apply: Apply
) -> None:
    shop = _Shop()
    money_moved = _unix(2026, 1, 31, 23, 59, 59)
    figures = _figures(
        _id("txn"),
        10_000,
        money_moved,
        fees={"stripe_fee": 320, "application_fee": 50},
        type="charge",
        source=shop.charge,
    )
    # The payment intent's event is told the next day, before the charge's own.
    told_late = _unix(2026, 2, 1, 0, 0, 7)
    await apply(
        shop.event(StripePaymentIntentSucceeded, _intent(shop, figures), told_late),
        shop.event(StripeChargeSucceeded, _charge(shop, figures, told_late), told_late + 3),
    )

    entry = await _entry(sessions, figures.balance_transaction_id)
    assert entry.occurred_at == datetime.fromtimestamp(money_moved, UTC)
    assert (entry.kind, entry.gross_cents, entry.net_cents) == ("charge", 10_000, 9_630)
    january = await _summary(sessions, shop.agency, date(2026, 1, 31), date(2026, 1, 31))
    february = await _summary(sessions, shop.agency, date(2026, 2, 1), date(2026, 2, 1))
    assert (january["gross_cents"], january["net_cents"]) == (10_000, 9_630)
    assert (february["gross_cents"], february["net_cents"]) == (0, 0)


async def test_a_charge_belongs_where_its_event_says_without_asking_stripe(
    sessions: Sessions, apply: Apply
) -> None:
    shop = _Shop()
    figures = _figures(_id("txn"), 4_000, _unix(2026, 3, 2), type="charge")
    moment = _unix(2026, 3, 2, 0, 0, 1)
    await apply(shop.event(StripeChargeSucceeded, _charge(shop, figures, moment), moment))

    entry = await _entry(sessions, figures.balance_transaction_id)
    assert (entry.agency_id, entry.workspace_id, entry.invoice_id) == (
        shop.agency,
        "ws-told",
        shop.invoice,
    )
    async with unit_of_work(sessions) as session:
        link = await session.get(PaymentLink, shop.charge)
        facts = await repository.invoice(session, shop.invoice)
    assert link is not None
    assert link.payment_intent_id == shop.intent
    assert facts is not None
    assert (facts.agency_id, facts.workspace_id, facts.created) == (
        shop.agency,
        "ws-told",
        shop.attribution.invoice_created,
    )


async def test_a_dispute_s_movements_come_from_its_events_each_on_its_own_day(
    sessions: Sessions, apply: Apply
) -> None:
    shop = _Shop()
    dispute_id = _id("dp")
    withdrawn = _figures(
        _id("txn"),
        -5_000,
        _unix(2026, 3, 3, 12),
        fees={"stripe_fee": 1_500},
        type="adjustment",
        reporting_category="dispute",
        source=dispute_id,
    )
    reinstated = _figures(
        _id("txn"),
        5_000,
        _unix(2026, 4, 10, 9),
        type="adjustment",
        reporting_category="dispute_reversal",
        source=dispute_id,
    )

    def dispute(status: str, carried: list[BalanceFigures]) -> StripeDisputeSnapshot:
        return StripeDisputeSnapshot(
            stripe_event_id="",
            stripe_created=0,
            dispute_id=dispute_id,
            status=status,
            amount=5_000,
            currency="usd",
            charge_id=shop.charge,
            payment_intent_id=shop.intent,
            balance_transactions=carried,
            attribution=shop.attribution,
        )

    withdrawal = shop.event(
        StripeDisputeFundsWithdrawn, dispute("needs_response", [withdrawn]), _unix(2026, 3, 3, 12)
    )
    won = shop.event(
        StripeDisputeClosed, dispute("won", [withdrawn, reinstated]), _unix(2026, 4, 10, 9)
    )
    await apply(won, withdrawal, won)  # late, early, again: the same two entries

    first = await _entry(sessions, withdrawn.balance_transaction_id)
    back = await _entry(sessions, reinstated.balance_transaction_id)
    assert (first.kind, first.gross_cents, first.stripe_fee_cents, first.net_cents) == (
        "dispute",
        -5_000,
        1_500,
        -6_500,
    )
    assert first.occurred_at == datetime.fromtimestamp(withdrawn.created or 0, UTC)
    assert (back.kind, back.net_cents) == ("dispute_reversal", 5_000)
    assert back.occurred_at == datetime.fromtimestamp(reinstated.created or 0, UTC)
    march = await _summary(sessions, shop.agency, date(2026, 3, 1), date(2026, 3, 31))
    april = await _summary(sessions, shop.agency, date(2026, 4, 1), date(2026, 4, 30))
    assert (march["disputed_cents"], march["stripe_fee_cents"]) == (5_000, 1_500)
    assert april["disputed_cents"] == -5_000
    assert first.workspace_id == "ws-told"


async def test_a_refunded_fee_s_movements_on_the_agency_s_balance_come_from_its_event(
    sessions: Sessions, apply: Apply
) -> None:
    shop = _Shop()
    fee_id, refunded_at = _id("fee"), _unix(2026, 5, 5, 5)
    given_back = _figures(
        _id("txn"), 25, refunded_at, type="application_fee_refund", source=_id("fr")
    )
    fee = StripeApplicationFeeSnapshot(
        stripe_event_id="",
        stripe_created=0,
        application_fee_id=fee_id,
        amount=50,
        amount_refunded=25,
        currency="usd",
        charge_id=shop.charge,
        paying_account_id=shop.account,
        refund_balance_transactions=[given_back],
        attribution=shop.attribution,
    )
    event = shop.event(StripeApplicationFeeRefunded, fee, refunded_at + 60)
    platform_event = event.model_copy(
        update={"payload": event.payload.model_copy(update={"stripe_account_id": None})}
    )
    await apply(platform_event)

    entry = await _entry(sessions, given_back.balance_transaction_id)
    assert (entry.kind, entry.net_cents, entry.source_id) == (
        "application_fee_refund",
        25,
        given_back.source,
    )
    assert entry.occurred_at == datetime.fromtimestamp(refunded_at, UTC)
    assert (entry.agency_id, entry.workspace_id) == (shop.agency, "ws-told")
