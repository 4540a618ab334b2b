"""revenue's service layer over the fakes of its ports (``tests/helpers/revenue/fakes.py``),
each operation in the transaction the edge runs it in: what revenue knows of accounts,
invoices, subscriptions and names (``Revenue``), the payouts (``Payouts``), what the owner
reads (``OwnerReads``) and the ledger's decisions per movement (``Ledger``: attribution,
each balance transaction once, its rollups and its public event, corrections).

What stays with the stack tests, because Postgres does it: the summary's JSON built from the
rollups (``test_summary_pages``, ``test_api``), the rollups' year/month/day rows and their
lock order (``test_ledger``), the charging-health and MRR queries themselves (``test_api``,
``test_mrr``), the ``ON CONFLICT`` clauses the fakes imitate, and the row locks."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import stripe

from billing_contracts.billing_balances import StripePayoutSnapshot
from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.billing_payments import (
    StripeChargeSnapshot,
    StripeChargeSucceeded,
    StripePaymentIntentSnapshot,
    StripePaymentIntentSucceeded,
    StripeRefundFailed,
    StripeRefundSnapshot,
)
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from billing_contracts.billing_subscriptions import (
    StripeSubscriptionItem,
    StripeSubscriptionSnapshot,
)
from billing_contracts.revenue_ledger import LedgerEntryRecorded
from billing_kit.errors import NotFoundError
from revenue.consumers import apply_payment_events
from revenue.models import InvoiceFacts, Payout, SubscriptionHealth
from revenue.rules import FIRST_PAGE, Figures, WorkspacePage, day_of, from_unix
from revenue.service.ledger import Movement, UnattributedMovementError, entry_event_id
from tests.helpers.revenue.fakes import RevenueFakes
from tests.helpers.revenue.invoices import invoice_snapshot

pytestmark = pytest.mark.unit

AGENCY, OTHER = "agency-1", "agency-2"
ACCOUNT, WORKSPACE, SUBSCRIPTION = "acct_1", "ws-health", "sub_1"
INVOICE, CHARGE, INTENT = "in_1", "ch_1", "pi_1"
T0 = 1_790_000_000  # 2026-09-21 UTC
DAY = 86_400
AWAY = stripe.APIConnectionError


def _invoice(status: str, at: int, **fields: Any) -> StripeInvoiceSnapshot:
    metadata, account = fields.pop("metadata", None), fields.pop("account", ACCOUNT)
    snapshot: StripeInvoiceSnapshot = invoice_snapshot(
        AGENCY, account, SUBSCRIPTION, at, invoice_id=fields.pop("invoice_id", INVOICE),
        status=status, **fields,
    )  # fmt: skip
    return snapshot if metadata is None else snapshot.model_copy(update={"metadata": metadata})


def _subscription(status: str, at: int, **fields: Any) -> StripeSubscriptionSnapshot:
    items, interval = fields.pop("items", [(10_000, "prod_1")]), fields.pop("interval", "month")
    return StripeSubscriptionSnapshot(
        stripe_event_id=f"evt_{at}_{status}",
        stripe_created=at,
        stripe_account_id=fields.pop("account", ACCOUNT),
        metadata=fields.pop("metadata", {"agency_id": AGENCY, "workspace_id": WORKSPACE}),
        subscription_id=SUBSCRIPTION,
        status=status,
        currency="usd",
        items=[
            StripeSubscriptionItem(
                item_id=f"si_{n}", product_id=product, unit_amount=amount, interval=interval
            )
            for n, (amount, product) in enumerate(items)
        ],
        **fields,
    )


def _attribution(**fields: Any) -> PaymentAttribution:
    told = {"charge_id": CHARGE, "payment_intent_id": INTENT, "invoice_id": INVOICE,
            "subscription_id": SUBSCRIPTION, "invoice_created": T0 - DAY, "agency_id": AGENCY,
            "workspace_id": WORKSPACE}  # fmt: skip
    return PaymentAttribution(**(told | fields))


def _figures(txn: str, gross: int, *, fee: int = 0, platform_fee: int = 0, at: int = T0) -> Figures:
    net = gross - fee - platform_fee
    return Figures(txn, "usd", gross, fee, platform_fee, net, created=at)


def _movement(txn: str, gross: int, kind: Any = "charge", **fields: Any) -> Movement:
    figures = _figures(txn, gross, **fields.pop("figures", {}))
    return Movement(
        kind=kind,
        figures=figures,
        account=fields.pop("account", ACCOUNT),
        charge_id=fields.pop("charge_id", CHARGE),
        source_id=fields.pop("source_id", CHARGE),
        occurred_at=from_unix(T0 + 3_600),
        attribution=fields.pop("attribution", _attribution()),
        **fields,
    )


def _stripe_txn(txn: str, amount: int, at: int, **fields: Any) -> dict[str, Any]:
    return {"id": txn, "amount": amount, "fee": 0, "net": amount, "currency": "usd",
            "created": at, **fields}  # fmt: skip


# --- whose account it is ----------------------------------------------------------------


async def test_an_account_s_agency_is_the_one_known_then_the_event_s_then_stripe_s() -> None:
    world = RevenueFakes()
    world.tables.accounts["acct_known"] = AGENCY
    world.stripe.account_agencies["acct_meta"] = "agency-meta"
    revenue = world.revenue()

    assert await revenue.agency_of("acct_known", hint=OTHER) == AGENCY
    assert await revenue.agency_of("acct_hinted", hint=OTHER) == OTHER
    assert world.stripe.calls == []  # neither asked Stripe
    assert await revenue.agency_of("acct_meta") == "agency-meta"
    assert await revenue.agency_of("acct_nobody") is None
    assert world.stripe.calls == ["agency_of_account", "agency_of_account"]
    # what was found is remembered, that nobody was is not
    assert world.tables.accounts == {
        "acct_known": AGENCY, "acct_hinted": OTHER, "acct_meta": "agency-meta",
    }  # fmt: skip


async def test_catalog_s_word_on_an_account_replaces_a_guess_and_a_guess_replaces_nothing() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    await revenue.agency_of(ACCOUNT, hint=OTHER)  # inferred from an event
    await revenue.remember_account(ACCOUNT, AGENCY, owner=True)
    assert await revenue.agency_of(ACCOUNT, hint=OTHER) == AGENCY
    await revenue.remember_account(ACCOUNT, OTHER)
    assert world.tables.accounts[ACCOUNT] == AGENCY


async def test_stripe_away_while_looking_for_an_account_s_agency_keeps_nothing() -> None:
    world = RevenueFakes()
    world.stripe.failing.add("agency_of_account")
    with pytest.raises(AWAY):
        async with world.transaction():
            await world.revenue().agency_of(ACCOUNT)
    assert world.tables.accounts == {}


# --- invoices ----------------------------------------------------------------------------


async def test_an_invoice_s_events_tell_whose_it_is_and_register_its_subscription() -> None:
    world = RevenueFakes()
    async with world.transaction():
        # (the invoice's own metadata names the agency, whatever the event says)
        await world.revenue().apply_invoices([(OTHER, "invoice.finalized", _invoice("open", T0))])

    facts = world.tables.invoices[INVOICE]
    assert (facts.agency_id, facts.workspace_id, facts.subscription_id) == (
        AGENCY, WORKSPACE, SUBSCRIPTION,
    )  # fmt: skip
    assert (facts.stripe_account_id, facts.created) == (ACCOUNT, T0)
    assert (facts.status, facts.status_seen_at, facts.paid_at) == ("open", T0, None)
    sub = world.tables.subscriptions[SUBSCRIPTION]
    assert (sub.agency_id, sub.workspace_id, sub.status) == (AGENCY, WORKSPACE, None)
    assert world.repository.locked == [INVOICE]
    assert world.stripe.calls == []


async def test_invoice_events_in_any_order_and_told_twice_end_paid_with_the_first_failure() -> None:
    events = [
        (None, "invoice.payment_failed", _invoice("open", T0 + 200)),
        (None, "invoice.paid", _invoice("paid", T0 + 900, paid_at=T0 + 800)),
        (None, "invoice.updated", _invoice("paid", T0 + 850)),  # paid, its time untold
        (None, "invoice.finalized", _invoice("open", T0)),
        (None, "invoice.payment_failed", _invoice("open", T0 + 100)),
    ]
    outcomes = []
    for order in (events, events[::-1], events + events):
        world = RevenueFakes()
        await world.revenue().apply_invoices(order[:2])  # two batches, as the consumer may
        await world.revenue().apply_invoices(order[2:])
        facts = world.tables.invoices[INVOICE]
        outcomes.append((facts.status, facts.status_seen_at, facts.paid_at, facts.first_failed_at))
    assert outcomes == [("paid", T0 + 900, T0 + 850, T0 + 100)] * 3


async def test_the_platform_s_own_invoices_are_not_client_revenue() -> None:
    world = RevenueFakes()
    own = _invoice("paid", T0).model_copy(update={"stripe_account_id": None})
    await world.revenue().apply_invoices([(None, "invoice.paid", own)])
    assert (world.tables.invoices, world.tables.subscriptions) == ({}, {})


async def test_an_invoice_without_its_tenant_is_the_agency_the_event_or_the_account_names() -> None:
    world = RevenueFakes()
    world.tables.accounts["acct_2"] = OTHER
    world.stripe.account_agencies["acct_3"] = "agency-meta"
    await world.revenue().apply_invoices(
        [
            ("agency-hinted", "invoice.finalized", _invoice("open", T0, metadata={})),
            (None, "invoice.finalized", _invoice("open", T0, metadata={}, invoice_id="in_2",
                                                 account="acct_2")),
            (None, "invoice.finalized", _invoice("open", T0, metadata={}, invoice_id="in_3",
                                                 account="acct_3")),
        ]
    )  # fmt: skip
    agencies = {i: f.agency_id for i, f in world.tables.invoices.items()}
    assert agencies == {INVOICE: "agency-hinted", "in_2": OTHER, "in_3": "agency-meta"}
    assert world.tables.invoices[INVOICE].workspace_id is None
    assert world.stripe.calls == ["agency_of_account"]  # only for the account nobody knew
    assert world.tables.accounts == {"acct_2": OTHER, "acct_3": "agency-meta"}
    # the subscription, as its first invoice told it
    assert world.tables.subscriptions[SUBSCRIPTION].agency_id == "agency-hinted"


async def test_an_invoice_s_known_facts_are_read_without_a_lock_and_without_stripe() -> None:
    world = RevenueFakes()
    known = InvoiceFacts(invoice_id=INVOICE, agency_id=AGENCY, workspace_id="ws-known")
    world.tables.invoices[INVOICE] = known
    facts = await world.revenue().invoice_facts(ACCOUNT, INVOICE, _attribution(agency_id=OTHER))
    assert facts is known
    assert facts.workspace_id == "ws-known"
    assert (world.repository.locked, world.stripe.calls) == ([], [])


async def test_an_invoice_s_facts_come_from_the_payment_s_event_else_from_stripe() -> None:
    world = RevenueFakes()
    told = await world.revenue().invoice_facts(ACCOUNT, INVOICE, _attribution())
    assert (told.agency_id, told.workspace_id, told.subscription_id, told.created) == (
        AGENCY, WORKSPACE, SUBSCRIPTION, T0 - DAY,
    )  # fmt: skip
    assert world.stripe.calls == []

    world.stripe.invoices["in_old"] = {
        "id": "in_old", "created": T0 - 2 * DAY, "metadata": {"workspace_id": "ws-own"},
        "parent": {"subscription_details": {
            "subscription": "sub_old", "metadata": {"agency_id": OTHER, "workspace_id": "ws-sub"},
        }},
    }  # fmt: skip
    read = await world.revenue().invoice_facts(ACCOUNT, "in_old")
    assert (read.agency_id, read.workspace_id, read.subscription_id, read.created) == (
        OTHER, "ws-own", "sub_old", T0 - 2 * DAY,
    )  # fmt: skip
    assert world.stripe.calls == ["invoice"]
    assert world.repository.locked == [INVOICE, "in_old"]


async def test_stripe_away_while_reading_an_older_invoice_keeps_nothing() -> None:
    world = RevenueFakes()
    world.stripe.failing.add("invoice")
    with pytest.raises(AWAY):
        async with world.transaction():
            await world.revenue().invoice_facts(ACCOUNT, INVOICE)
    assert world.tables.invoices == {}


# --- subscriptions -----------------------------------------------------------------------


async def test_a_subscription_s_status_only_moves_forward_and_ends_for_good() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    await revenue.apply_subscription(None, _subscription("active", T0 + 10))
    await revenue.apply_subscription(None, _subscription("incomplete", T0))  # older: ignored
    health = world.tables.subscriptions[SUBSCRIPTION]
    assert (health.status, health.status_seen_at, health.stripe_product_id) == (
        "active", T0 + 10, "prod_1",
    )  # fmt: skip
    assert (health.agency_id, health.workspace_id) == (AGENCY, WORKSPACE)

    # the same second: what says it follows the status kept, or is further along, applies
    await revenue.apply_subscription(None, _subscription("past_due", T0 + 10))
    assert health.status == "past_due"
    moved = _subscription("active", T0 + 10, previous_status="past_due", items=[(1, "prod_2")])
    await revenue.apply_subscription(None, moved)
    assert (health.status, health.stripe_product_id) == ("active", "prod_2")

    await revenue.apply_subscription(None, _subscription("canceled", T0 + 20))
    await revenue.apply_subscription(None, _subscription("active", T0 + 30))
    assert (health.status, health.status_seen_at) == ("canceled", T0 + 20)
    assert world.repository.flushes == 6


async def test_a_subscription_nobody_owns_or_the_platform_s_own_is_not_kept() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    await revenue.apply_subscription(None, _subscription("active", T0, account=None))
    await revenue.apply_subscription(None, _subscription("active", T0, metadata={}))
    assert world.tables.subscriptions == {}
    assert world.stripe.calls == ["agency_of_account"]  # the second asked whose account it is

    await revenue.apply_subscription("agency-hinted", _subscription("active", T0, metadata={}))
    assert world.tables.subscriptions[SUBSCRIPTION].agency_id == "agency-hinted"


async def test_a_subscription_s_states_are_kept_as_told_once_each() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    yearly = _subscription("active", T0, items=[(120_000, "prod_1")], interval="year")
    for told in (yearly, yearly, _subscription("canceled", T0 + 50, items=[])):
        await revenue.record_subscription_state(told)
    await revenue.record_subscription_state(_subscription("active", T0 + 60, items=[]))
    await revenue.record_subscription_state(_subscription("active", T0 + 70, account=None))

    kept = sorted((s.at, s.status, s.monthly_cents) for s in world.tables.states.values())
    # an unpriced state that would count is not guessed; the platform's own is not kept
    assert kept == [(T0, "active", 10_000), (T0 + 50, "canceled", 0)]


# --- names -------------------------------------------------------------------------------


async def test_the_latest_revision_of_a_name_wins_whatever_order_they_come_in() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    await revenue.remember_name("workspace", WORKSPACE, AGENCY, "Acme (new)", 3)
    await revenue.remember_name("workspace", WORKSPACE, AGENCY, "Acme", 1)
    await revenue.remember_name("product", "prod_1", AGENCY, "Retainer", 1)
    await revenue.remember_name("workspace", "ws-other", OTHER, "Not ours", 1)

    names = await revenue.names(AGENCY)
    assert names.workspaces == {WORKSPACE: "Acme (new)"}
    assert names.products == {"prod_1": "Retainer"}


# --- what the owner reads -----------------------------------------------------------------


async def test_the_summary_is_the_database_s_text_for_the_days_and_page_asked() -> None:
    world = RevenueFakes()
    page = WorkspacePage(limit=10, after="ws-a")
    first, last = date(2026, 1, 1), date(2026, 3, 31)
    text = await world.revenue().summary_json(AGENCY, first, last, "eur", page)
    await world.revenue().summary_json(AGENCY, first, last, "usd")
    assert text == '{"agency_id": "agency-1", "built_by": "the database"}'
    assert world.repository.summaries == [
        (AGENCY, "eur", first, last, page), (AGENCY, "usd", first, last, FIRST_PAGE),
    ]  # fmt: skip


async def test_charging_health_tells_when_each_subscription_was_last_paid_and_failing_since() -> (
    None
):
    world = RevenueFakes()
    revenue = world.revenue()
    await revenue.apply_subscription(None, _subscription("past_due", T0))
    await revenue.apply_invoices(
        [
            (None, "invoice.paid", _invoice("paid", T0, paid_at=T0, invoice_id="in_paid")),
            (None, "invoice.payment_failed", _invoice("open", T0 + DAY, invoice_id="in_due")),
        ]
    )
    world.tables.subscriptions["sub_fine"] = SubscriptionHealth(
        subscription_id="sub_fine", agency_id=AGENCY, status="active"
    )
    world.tables.subscriptions["sub_other"] = SubscriptionHealth(
        subscription_id="sub_other", agency_id=OTHER
    )

    rows = await revenue.charging_health(AGENCY)
    assert [(r.subscription_id, r.status, r.stripe_product_id) for r in rows] == [
        (SUBSCRIPTION, "past_due", "prod_1"), ("sub_fine", "active", None),
    ]  # fmt: skip
    assert (rows[0].last_paid_at, rows[0].failing_since) == (from_unix(T0), from_unix(T0 + DAY))
    assert (rows[1].last_paid_at, rows[1].failing_since) == (None, None)


async def test_mrr_counts_a_subscription_from_its_first_paid_invoice_in_its_currency() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    september, december = date(2026, 9, 1), date(2026, 12, 1)
    await revenue.apply_subscription(None, _subscription("active", T0))
    await revenue.record_subscription_state(_subscription("active", T0))
    await revenue.apply_invoices([(None, "invoice.paid", _invoice("paid", T0, paid_at=T0 + 60))])
    await revenue.record_subscription_state(_subscription("canceled", T0 + 40 * DAY, items=[]))

    mrr = await revenue.mrr(AGENCY, september, december, "usd", None)
    assert [(m.month, m.mrr_cents, m.new_cents, m.churned_cents) for m in mrr.months] == [
        ("2026-09", 10_000, 10_000, 0), ("2026-10", 0, 0, 10_000),
        ("2026-11", 0, 0, 0), ("2026-12", 0, 0, 0),
    ]  # fmt: skip
    assert (mrr.currency, mrr.arr_cents) == ("usd", 0)

    running = await revenue.mrr(AGENCY, september, september, "usd", WORKSPACE)
    assert (running.arr_cents, running.months[0].active_subscriptions) == (120_000, 1)
    assert (await revenue.mrr(AGENCY, september, september, "eur", None)).arr_cents == 0
    assert (await revenue.mrr(AGENCY, september, september, "usd", "ws-x")).arr_cents == 0


# --- payouts -----------------------------------------------------------------------------


def _payout(status: str, at: int, **fields: Any) -> StripePayoutSnapshot:
    return StripePayoutSnapshot(
        stripe_event_id=f"evt_{at}_{status}", stripe_created=at,
        stripe_account_id=fields.pop("account", ACCOUNT), payout_id=fields.pop("payout_id", "po_1"),
        status=status, amount=9_000, currency="usd", automatic=True, created=T0, **fields,
    )  # fmt: skip


def _settled(txn: str, gross: int, fee: int, kind: str = "charge") -> BalanceFigures:
    return BalanceFigures(
        balance_transaction_id=txn, currency="usd", gross=gross, stripe_fee=fee,
        application_fee=0, net=gross - fee, type=kind, created=T0, source=f"src_{txn}",
    )  # fmt: skip


async def test_a_payout_ends_in_its_last_status_with_the_arrival_its_newest_event_tells() -> None:
    world = RevenueFakes()
    world.tables.accounts[ACCOUNT] = AGENCY
    revenue = world.revenue()
    await revenue.apply_payout(OTHER, _payout("in_transit", T0 + 20, arrival_date=T0 + 2 * DAY))
    await revenue.apply_payout(None, _payout("pending", T0 + 10, arrival_date=T0 + DAY))
    row = world.tables.payouts["po_1"]
    assert (row.agency_id, row.status, row.status_seen_at) == (AGENCY, "in_transit", T0 + 20)
    assert row.arrival_date == day_of(from_unix(T0 + 2 * DAY))  # the older event's day is not

    await revenue.apply_payout(None, _payout("failed", T0 + 30, arrival_date=T0 + 3 * DAY))
    await revenue.apply_payout(None, _payout("paid", T0 + 40, arrival_date=T0 + 3 * DAY))
    assert (row.status, row.status_seen_at) == ("failed", T0 + 30)
    assert (row.amount_cents, row.currency, row.automatic) == (9_000, "usd", True)


async def test_a_payout_s_transactions_are_kept_once_from_the_first_event_that_tells_them() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    settled = [_settled("txn_a", 10_000, 300), _settled("txn_b", -1_000, 0, "refund")]
    await revenue.apply_payout(AGENCY, _payout("paid", T0, balance_transactions=settled))
    again = [*settled, _settled("txn_late", 5, 0)]
    await revenue.apply_payout(AGENCY, _payout("paid", T0 + 1, balance_transactions=again))
    await revenue.apply_payout(AGENCY, _payout("paid", T0, account=None))  # the platform's

    assert sorted(txn for _, txn in world.tables.settled) == ["txn_a", "txn_b"]
    kept = world.tables.settled["po_1", "txn_a"]
    assert (kept.kind, kept.stripe_fee_cents, kept.net_cents, kept.source_id) == (
        "charge", 300, 9_700, "src_txn_a",
    )  # fmt: skip
    assert world.tables.payouts["po_1"].transactions_known
    assert list(world.tables.payouts) == ["po_1"]


async def test_the_payouts_list_the_agency_s_arrivals_latest_first_with_their_figures() -> None:
    world = RevenueFakes()
    revenue = world.revenue()
    settled = [
        _settled("txn_a", 10_000, 300),
        _settled("txn_b", -1_000, 0, "refund"),
        _settled("txn_fee", -1_200, 0, "stripe_fee"),
    ]  # fmt: skip  (the last: other)
    for n, arrival in enumerate((T0, T0 + 5 * DAY, T0 + 99 * DAY)):
        told = settled if n == 0 else None
        await revenue.apply_payout(
            AGENCY,
            _payout(
                "paid", T0, payout_id=f"po_{n}", arrival_date=arrival, balance_transactions=told
            ),
        )
    await revenue.apply_payout(OTHER, _payout("paid", T0, payout_id="po_other"))

    listed = await revenue.payouts(AGENCY, day_of(from_unix(T0)), day_of(from_unix(T0 + 5 * DAY)))
    assert [(p.payout_id, p.transactions) for p in listed] == [("po_1", 0), ("po_0", 3)]
    figures = listed[1]
    assert (figures.gross_cents, figures.refunded_cents, figures.stripe_fee_cents) == (
        10_000, 1_000, 300,
    )  # fmt: skip
    assert (figures.other_cents, figures.amount_cents) == (-1_200, 9_000)

    detail = await revenue.payout(AGENCY, "po_0")
    assert [(t.balance_transaction_id, t.fee_cents, t.net_cents) for t in detail.transactions] == [
        ("txn_a", 300, 9_700), ("txn_b", 0, -1_000), ("txn_fee", 0, -1_200),
    ]  # fmt: skip


async def test_a_payout_s_transactions_name_the_workspace_and_invoice_of_their_entries() -> None:
    world = RevenueFakes()
    world.tables.accounts[ACCOUNT] = AGENCY
    await world.ledger().record(_movement("txn_a", 10_000))
    settled = [_settled("txn_a", 10_000, 300)]
    await world.revenue().apply_payout(None, _payout("paid", T0, balance_transactions=settled))
    [line] = (await world.revenue().payout(AGENCY, "po_1")).transactions
    assert (line.workspace_id, line.invoice_id, line.type) == (WORKSPACE, INVOICE, "charge")


@pytest.mark.parametrize("payout_id", ["po_theirs", "po_nope"], ids=["another-s", "unknown"])
async def test_a_payout_the_agency_does_not_have_is_not_found(payout_id: str) -> None:
    world = RevenueFakes()
    world.tables.payouts["po_theirs"] = Payout(
        payout_id="po_theirs", stripe_account_id="acct_2", agency_id=OTHER, status="paid",
        amount_cents=1, currency="usd", arrival_date=date(2026, 9, 21), created=T0,
    )  # fmt: skip
    with pytest.raises(NotFoundError):
        await world.revenue().payout(AGENCY, payout_id)
    assert (await world.revenue().payout(OTHER, "po_theirs")).amount_cents == 1


# --- the ledger --------------------------------------------------------------------------


def _day_sums(world: RevenueFakes, day: int = T0, workspace: str = WORKSPACE) -> dict[str, int]:
    return world.tables.rollups[AGENCY, workspace, day_of(from_unix(day)), "usd"]


async def test_a_movement_is_recorded_where_its_event_says_with_its_rollups_and_its_event() -> None:
    world = RevenueFakes()
    async with world.transaction():
        new = await world.ledger().record(
            _movement("txn_1", 10_000, figures={"fee": 320, "platform_fee": 50})
        )

    assert new is True
    entry = world.tables.entries["txn_1"]
    assert (entry.agency_id, entry.workspace_id, entry.invoice_id, entry.subscription_id) == (
        AGENCY, WORKSPACE, INVOICE, SUBSCRIPTION,
    )  # fmt: skip
    assert (entry.kind, entry.gross_cents, entry.net_cents, entry.charge_id) == (
        "charge", 10_000, 9_630, CHARGE,
    )  # fmt: skip
    assert entry.occurred_at == from_unix(T0)  # the balance transaction's day, not the event's
    sums = _day_sums(world)
    assert (sums["gross_cents"], sums["stripe_fee_cents"], sums["platform_fee_cents"]) == (
        10_000, 320, 50,
    )  # fmt: skip
    assert (sums["net_cents"], sums["entries"]) == (9_630, 1)

    assert world.published() == [("revenue.ledger.v1", "ledger_entry.recorded", AGENCY)]
    [row] = world.outbox.published
    assert row.session is world.session
    assert isinstance(row.event, LedgerEntryRecorded)
    assert row.event.event_id == entry_event_id("txn_1")
    assert (row.event.agency_id, row.event.workspace_id) == (AGENCY, WORKSPACE)
    assert row.event.payload.model_dump() == entry.model_dump(exclude={"recorded_at"})

    link = world.tables.links[CHARGE]
    assert (link.payment_intent_id, link.agency_id, link.invoice_id) == (INTENT, AGENCY, INVOICE)
    assert world.tables.accounts == {ACCOUNT: AGENCY}  # an account with movements is known
    assert world.tables.invoices[INVOICE].agency_id == AGENCY
    assert world.stripe.calls == []


async def test_a_balance_transaction_told_again_or_twice_in_a_batch_is_recorded_once() -> None:
    world = RevenueFakes()
    ledger = world.ledger()
    first = _movement("txn_1", 10_000)
    batch = [first, first, _movement("txn_1", 99_999), _movement("txn_2", 500)]
    assert await ledger.record_all(batch) == 2
    before = (dict(_day_sums(world)), list(world.outbox.published))

    told_again = _movement("txn_1", 99_999, source_id="other")
    assert await ledger.record(told_again) is False
    assert await ledger.record_all([first, _movement("txn_2", 500)]) == 0
    assert (_day_sums(world), world.outbox.published) == before
    assert world.tables.entries["txn_1"].gross_cents == 10_000  # as first told
    assert _day_sums(world)["entries"] == 2


async def test_every_later_movement_of_a_charge_lands_where_the_charge_did() -> None:
    world = RevenueFakes()
    ledger = world.ledger()
    await ledger.record(_movement("txn_paid", 10_000))
    elsewhere = _attribution(agency_id=OTHER, workspace_id="ws-x", invoice_id="in_x")
    await ledger.record(_movement("txn_back", -4_000, "refund", attribution=elsewhere))
    refund = world.tables.entries["txn_back"]
    assert (refund.agency_id, refund.workspace_id, refund.invoice_id) == (
        AGENCY, WORKSPACE, INVOICE,
    )  # fmt: skip
    assert _day_sums(world)["refunded_cents"] == 4_000
    assert list(world.tables.links) == [CHARGE]


@pytest.mark.parametrize("invoice_known", [True, False], ids=["invoice-known", "invoice-new"])
async def test_the_account_s_owner_wins_over_what_the_payment_s_objects_say(
    invoice_known: bool,
) -> None:
    world = RevenueFakes()
    world.tables.accounts[ACCOUNT] = AGENCY
    if invoice_known:
        world.tables.invoices[INVOICE] = InvoiceFacts(
            invoice_id=INVOICE, agency_id=OTHER, workspace_id="ws-invoice", subscription_id="sub_i"
        )
    await world.ledger().record(_movement("txn_1", 100, attribution=_attribution(agency_id=OTHER)))
    entry = world.tables.entries["txn_1"]
    # the invoice's facts name the workspace and the subscription, the account the agency
    expected = ("ws-invoice", "sub_i") if invoice_known else (WORKSPACE, SUBSCRIPTION)
    assert (entry.agency_id, entry.workspace_id, entry.subscription_id) == (AGENCY, *expected)
    assert world.repository.locked == ([] if invoice_known else [INVOICE])
    assert world.stripe.calls == []


async def test_an_older_event_s_charge_is_attributed_from_stripe() -> None:
    world = RevenueFakes()
    world.stripe.charges[CHARGE] = {
        "id": CHARGE, "payment_intent": {"id": INTENT}, "metadata": {"workspace_id": "ws-c"}
    }  # fmt: skip
    world.stripe.paid_by[INTENT] = INVOICE
    world.stripe.invoices[INVOICE] = {
        "id": INVOICE, "created": T0 - DAY, "subscription": SUBSCRIPTION,
        "metadata": {"agency_id": AGENCY, "workspace_id": WORKSPACE},
    }  # fmt: skip
    await world.ledger().record(_movement("txn_1", 100, attribution=None))

    entry = world.tables.entries["txn_1"]
    assert (entry.agency_id, entry.workspace_id, entry.invoice_id, entry.subscription_id) == (
        AGENCY, WORKSPACE, INVOICE, SUBSCRIPTION,
    )  # fmt: skip
    assert world.stripe.calls == ["charge", "invoice_paid_by", "invoice"]
    assert world.tables.accounts == {ACCOUNT: AGENCY}


async def test_a_charge_that_paid_no_invoice_belongs_to_its_own_metadata_s_tenant() -> None:
    world = RevenueFakes()
    tenant = {"agency_id": OTHER, "workspace_id": "ws-c"}
    world.stripe.charges[CHARGE] = {"id": CHARGE, "payment_intent": None, "metadata": tenant}
    await world.ledger().record(_movement("txn_1", 100, attribution=None))
    entry = world.tables.entries["txn_1"]
    assert (entry.agency_id, entry.workspace_id, entry.invoice_id) == (OTHER, "ws-c", None)
    assert world.stripe.calls == ["charge"]


async def test_a_movement_no_agency_is_known_for_is_refused_and_nothing_is_kept() -> None:
    world = RevenueFakes()
    world.stripe.charges["ch_nobody"] = {"id": "ch_nobody", "payment_intent": None, "metadata": {}}
    nobody_s = _movement("txn_1", 100, attribution=None, account="acct_x", charge_id="ch_nobody")
    with pytest.raises(UnattributedMovementError):
        async with world.transaction():
            await world.ledger().record_all([_movement("txn_ok", 5), nobody_s])
    assert world.tables == type(world.tables)()  # not the batch's other movement either
    assert world.outbox.published == []
    assert world.stripe.calls == ["charge", "agency_of_account"]


@pytest.mark.parametrize("read", ["charge", "invoice_paid_by", "invoice", "agency_of_account"])
async def test_stripe_away_while_attributing_keeps_nothing_for_the_retry(read: str) -> None:
    world = RevenueFakes()
    world.stripe.charges[CHARGE] = {"id": CHARGE, "payment_intent": INTENT, "metadata": {}}
    world.stripe.paid_by[INTENT] = INVOICE
    world.stripe.invoices[INVOICE] = {"id": INVOICE, "metadata": {}}
    world.stripe.failing.add(read)
    with pytest.raises(AWAY):
        async with world.transaction():
            await world.ledger().record(_movement("txn_1", 100, attribution=None))
    assert world.tables == type(world.tables)()
    assert world.outbox.published == []
    assert world.stripe.calls[-1] == read


async def test_a_correction_moves_the_rollups_by_the_difference_and_records_what_is_missing() -> (
    None
):
    world = RevenueFakes()
    ledger = world.ledger()
    await ledger.record(_movement("txn_1", 10_000, figures={"fee": 300}))
    same = _movement("txn_1", 10_000, figures={"fee": 300})
    assert await ledger.correct(same) is False

    late = _movement("txn_1", 10_000, figures={"fee": 320, "at": T0 + DAY})
    assert await ledger.correct(late) is True
    entry = world.tables.entries["txn_1"]
    assert (entry.stripe_fee_cents, entry.net_cents, entry.occurred_at) == (
        320, 9_680, from_unix(T0 + DAY),
    )  # fmt: skip
    moved_out, moved_in = _day_sums(world), _day_sums(world, T0 + DAY)
    assert (moved_out["gross_cents"], moved_out["net_cents"], moved_out["entries"]) == (0, 0, 0)
    assert (moved_in["gross_cents"], moved_in["net_cents"], moved_in["entries"]) == (
        10_000, 9_680, 1,
    )  # fmt: skip
    assert len(world.outbox.published) == 1  # a correction is not announced again

    assert await ledger.correct(_movement("txn_2", 50, charge_id="ch_2")) is True
    assert "txn_2" in world.tables.entries
    assert len(world.outbox.published) == 2


async def test_a_dispute_s_and_a_fee_refund_s_movements_are_read_from_stripe() -> None:
    world = RevenueFakes()
    ledger = world.ledger()
    world.stripe.disputes["dp_1"] = {"id": "dp_1", "charge": {"id": "ch_disputed"},
        "balance_transactions": [
            _stripe_txn("txn_w", -5_000, T0, type="adjustment", reporting_category="dispute"),
            _stripe_txn("txn_p", -5_000, T0, type="payout"),  # not a movement of revenue
        ]}  # fmt: skip
    world.stripe.fee_refunds["fee_1"] = [
        _stripe_txn("txn_fr", 25, T0, type="application_fee_refund", source="fr_1")
    ]
    template = _movement("", 0)
    [withdrawn] = await ledger.dispute_movements(template, "dp_1")
    [given_back] = await ledger.fee_refund_movements(template, "fee_1")
    assert (withdrawn.kind, withdrawn.charge_id, withdrawn.figures.gross) == (
        "dispute", "ch_disputed", -5_000,
    )  # fmt: skip
    assert (given_back.kind, given_back.charge_id, given_back.source_id) == (
        "application_fee_refund", CHARGE, "fr_1",
    )  # fmt: skip
    world.stripe.balance["txn_c"] = _stripe_txn("txn_c", 700, T0, type="charge")
    assert (await ledger.figures_of(ACCOUNT, "txn_c")).net == 700
    assert world.stripe.calls == ["dispute", "fee_refund_transactions", "balance_transaction"]


# --- the ledger from payment events ------------------------------------------------------


def _carried(txn: str, gross: int, kind: str, fee: int = 0) -> BalanceFigures:
    return BalanceFigures(
        balance_transaction_id=txn, currency="usd", gross=gross, stripe_fee=fee,
        application_fee=0, net=gross - fee, type=kind, created=T0,
    )  # fmt: skip


def _charge(charge_id: str, figures: BalanceFigures | None, **fields: Any) -> StripeChargeSucceeded:
    txn = figures.balance_transaction_id if figures else fields.pop("txn")
    return StripeChargeSucceeded(
        agency_id=AGENCY,
        payload=StripeChargeSnapshot(
            stripe_event_id=f"evt_{charge_id}", stripe_created=T0 + 5,
            stripe_account_id=fields.pop("account", ACCOUNT), charge_id=charge_id,
            status="succeeded", amount=10_000, currency="usd", balance_transaction_id=txn,
            figures=figures, attribution=_attribution(charge_id=charge_id), **fields,
        ),
    )  # fmt: skip


async def test_a_payment_told_by_its_intent_and_its_charge_is_recorded_once() -> None:
    world = RevenueFakes()
    figures = _carried("txn_1", 10_000, "charge", fee=320)
    intent = StripePaymentIntentSucceeded(
        agency_id=AGENCY,
        payload=StripePaymentIntentSnapshot(
            stripe_event_id="evt_pi", stripe_created=T0 + 4, stripe_account_id=ACCOUNT,
            payment_intent_id=INTENT, status="succeeded", amount=10_000, currency="usd",
            latest_charge_id=CHARGE, figures=figures, attribution=_attribution(),
        ),
    )  # fmt: skip
    world.stripe.balance["txn_2"] = _stripe_txn("txn_2", 700, T0 + DAY, type="charge")
    events = [
        intent,
        _charge(CHARGE, figures),
        _charge("ch_platform", _carried("txn_platform", 1, "charge"), account=None),
        _charge("ch_2", None, txn="txn_2"),  # an older event: its figures read from Stripe
    ]
    async with world.transaction():
        await apply_payment_events(world.ledger(), events)
    async with world.transaction():
        await apply_payment_events(world.ledger(), events[:2])  # redelivered

    assert sorted(world.tables.entries) == ["txn_1", "txn_2"]
    assert world.tables.entries["txn_2"].occurred_at == from_unix(T0 + DAY)
    announced = [p.event.event_id for p in world.outbox.published]
    assert announced == [entry_event_id("txn_1"), entry_event_id("txn_2")]
    assert world.stripe.calls == ["balance_transaction"]
    assert _day_sums(world)["net_cents"] == 9_680


async def test_a_failed_refund_gives_its_amount_back_from_the_figures_its_event_carries() -> None:
    world = RevenueFakes()
    failed = StripeRefundFailed(
        agency_id=AGENCY,
        payload=StripeRefundSnapshot(
            stripe_event_id="evt_re", stripe_created=T0 + 60, stripe_account_id=ACCOUNT,
            refund_id="re_1", status="failed", amount=4_000, currency="usd", charge_id=CHARGE,
            balance_transaction_id="txn_re", figures=_carried("txn_re", -4_000, "refund"),
            failure_figures=_carried("txn_back", 4_000, "refund_failure"),
            attribution=_attribution(),
        ),
    )  # fmt: skip
    await apply_payment_events(world.ledger(), [failed, failed])

    kinds = {e.entry_id: (e.kind, e.source_id) for e in world.tables.entries.values()}
    assert kinds == {"txn_re": ("refund", "re_1"), "txn_back": ("refund_failure", "re_1")}
    sums = _day_sums(world)
    assert (sums["refunded_cents"], sums["net_cents"], sums["entries"]) == (0, 0, 2)
    assert world.outbox.types() == ["ledger_entry.recorded"] * 2
