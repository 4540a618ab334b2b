"""Fakes of revenue's ports (``revenue.service.ports``) for the fast tier, in the manner of
cosmicpython's ``FakeRepository`` and ``FakeUnitOfWork``: each keeps its state in dicts and
lists that a test arranges and reads back.

- ``FakeRepository``: revenue's tables (``Tables``), as the queries of ``revenue.repository``
  find and keep them: a row made on first need, the first word kept where the query keeps
  it (an entry, a charge's link, a subscription's state), a later revision of a name, the
  owner's word on an account; the service's changes to a row it read are kept, as in the
  session's identity map. The rollups are one row per agency, workspace, day and currency
  (the real ones add the same figures to each day's month and year as well);
- ``FakeStripe``: the objects revenue reads from Stripe, and an outage to inject per read;
- the kit's outbox: ``tests.helpers.outbox.FakeOutbox``.

``RevenueFakes`` holds one of each and plays the edge: ``transaction`` keeps what its block
wrote, or, when the block raises, leaves the tables and the outbox as they were."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any, cast

import stripe
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from revenue.models import (
    DisplayName,
    InvoiceFacts,
    LedgerEntry,
    PaymentLink,
    Payout,
    PayoutTransaction,
    SubscriptionHealth,
    SubscriptionStateRow,
)
from revenue.repository import PayoutSums
from revenue.rules import ROLLUP_FIGURES, SubscriptionHistory, SubscriptionState, WorkspacePage
from revenue.service import Revenue
from revenue.service.ledger import Ledger
from tests.helpers.outbox import FakeOutbox

StripeDict = dict[str, Any]
RollupKey = tuple[str, str, date, str]
"""Agency, workspace ('' for none), day, currency."""


class Transaction:
    """Stands for the edge's session: the service only hands it to the outbox."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the service used its session ({name}): queries go to its ports")


def _copied(value: Any) -> Any:
    if isinstance(value, SQLModel):
        return type(value).model_validate(value.model_dump())
    return dict(value) if isinstance(value, dict) else value


@dataclass
class Tables:
    accounts: dict[str, str] = field(default_factory=dict)
    """Connected account → agency."""
    invoices: dict[str, InvoiceFacts] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionHealth] = field(default_factory=dict)
    states: dict[tuple[str, int, str, int], SubscriptionStateRow] = field(default_factory=dict)
    names: dict[tuple[str, str], DisplayName] = field(default_factory=dict)
    links: dict[str, PaymentLink] = field(default_factory=dict)
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    rollups: dict[RollupKey, dict[str, int]] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    settled: dict[tuple[str, str], PayoutTransaction] = field(default_factory=dict)
    """A payout's transactions by (payout, balance transaction)."""

    def copied(self) -> Tables:
        return Tables(
            **{
                f.name: {key: _copied(row) for key, row in getattr(self, f.name).items()}
                for f in fields(self)
            }
        )


@dataclass(frozen=True)
class ChargingHealthRow:
    subscription_id: str
    workspace_id: str | None
    status: str | None
    stripe_product_id: str | None
    last_paid_at: int | None
    failing_since: int | None


@dataclass
class FakeRepository:
    tables: Tables = field(default_factory=Tables)
    flushes: int = 0
    locked: list[str] = field(default_factory=list)
    """The invoices locked, in the order they were."""
    summaries: list[tuple[str, str, date, date, WorkspacePage]] = field(default_factory=list)
    """What each ``summary_json`` asked the database for (agency, currency, from, to, page)."""

    async def flush(self) -> None:
        self.flushes += 1

    # --- accounts, invoices, subscriptions, names ---------------------------------------

    async def agency_of_account(self, account_id: str) -> str | None:
        return self.tables.accounts.get(account_id)

    async def agencies_of_accounts(self, accounts: Iterable[str]) -> dict[str, str]:
        known = self.tables.accounts
        return {account: known[account] for account in accounts if account in known}

    async def remember_account(
        self, account_id: str, agency_id: str, *, owner: bool = False
    ) -> None:
        if owner:
            self.tables.accounts[account_id] = agency_id
        else:
            self.tables.accounts.setdefault(account_id, agency_id)

    def _locked_invoice(self, invoice_id: str) -> InvoiceFacts:
        self.locked.append(invoice_id)
        return self.tables.invoices.setdefault(invoice_id, InvoiceFacts(invoice_id=invoice_id))

    async def invoice(self, invoice_id: str, *, for_update: bool = False) -> InvoiceFacts | None:
        if for_update:
            return self._locked_invoice(invoice_id)
        return self.tables.invoices.get(invoice_id)

    async def invoices_locked(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]:
        return {i: self._locked_invoice(i) for i in sorted(set(invoice_ids))}

    async def known_invoices(self, invoice_ids: Iterable[str]) -> dict[str, InvoiceFacts]:
        found = (self.tables.invoices.get(i) for i in invoice_ids)
        return {f.invoice_id: f for f in found if f is not None and f.agency_id is not None}

    async def register_subscriptions(
        self, subscriptions: dict[str, tuple[str, str | None]]
    ) -> None:
        for sub, (agency, workspace) in subscriptions.items():
            self.tables.subscriptions.setdefault(
                sub,
                SubscriptionHealth(subscription_id=sub, agency_id=agency, workspace_id=workspace),
            )

    async def ensure_subscription(
        self, subscription_id: str, agency_id: str, workspace_id: str | None
    ) -> SubscriptionHealth:
        await self.register_subscriptions({subscription_id: (agency_id, workspace_id)})
        return self.tables.subscriptions[subscription_id]

    async def record_subscription_state(self, state: SubscriptionStateRow) -> None:
        key = (state.subscription_id, state.at, state.status, state.monthly_cents)
        self.tables.states.setdefault(key, state)

    async def remember_name(self, name: DisplayName) -> None:
        known = self.tables.names.get((name.kind, name.key))
        if known is None:
            self.tables.names[name.kind, name.key] = name
        elif known.revision < name.revision:
            known.name, known.revision = name.name, name.revision

    async def names_of(self, agency_id: str, kind: str) -> dict[str, str]:
        names = self.tables.names.values()
        return {n.key: n.name for n in names if n.agency_id == agency_id and n.kind == kind}

    # --- the ledger ---------------------------------------------------------------------

    async def record_entries(self, entries: Sequence[LedgerEntry]) -> set[str]:
        new = {e.entry_id for e in entries if e.entry_id not in self.tables.entries}
        self.tables.entries |= {e.entry_id: e for e in entries if e.entry_id in new}
        return new

    async def ledger_entry(self, entry_id: str) -> LedgerEntry | None:
        return self.tables.entries.get(entry_id)

    def add_to_rollups(
        self,
        *,
        agency_id: str,
        workspace_id: str,
        day: date,
        currency: str,
        delta: dict[str, int],
        entries: int = 1,
    ) -> None:
        sums = self.tables.rollups.setdefault(
            (agency_id, workspace_id, day, currency), dict.fromkeys((*ROLLUP_FIGURES, "entries"), 0)
        )
        for name in ROLLUP_FIGURES:
            sums[name] += delta.get(name, 0)
        sums["entries"] += entries

    async def payment_links(self, charge_ids: Iterable[str]) -> dict[str, PaymentLink]:
        links = self.tables.links
        return {charge: links[charge] for charge in charge_ids if charge in links}

    async def save_payment_links(self, links: Sequence[PaymentLink]) -> dict[str, PaymentLink]:
        kept = self.tables.links
        return {link.charge_id: kept.setdefault(link.charge_id, link) for link in links}

    # --- payouts ------------------------------------------------------------------------

    async def payout_locked(self, payout: Payout) -> Payout:
        return self.tables.payouts.setdefault(payout.payout_id, payout)

    async def save_payout_transactions(self, transactions: Sequence[PayoutTransaction]) -> None:
        for t in transactions:
            self.tables.settled.setdefault((t.payout_id, t.balance_transaction_id), t)

    async def payouts_of(
        self, agency_id: str, first: date, last: date, limit: int
    ) -> Sequence[Payout]:
        ours = [
            p
            for p in self.tables.payouts.values()
            if p.agency_id == agency_id and first <= p.arrival_date <= last
        ]
        by_id = sorted(ours, key=lambda p: p.payout_id)
        return sorted(by_id, key=lambda p: p.arrival_date, reverse=True)[:limit]

    async def payout_sums(self, payout_ids: Sequence[str]) -> dict[str, tuple[PayoutSums, int]]:
        found: dict[str, tuple[PayoutSums, int]] = {}
        for t in self.tables.settled.values():
            if t.payout_id not in payout_ids:
                continue
            sums, count = found.get(t.payout_id, ({}, 0))
            figures = (t.gross_cents, t.stripe_fee_cents, t.platform_fee_cents, t.net_cents)
            before = sums.get(t.kind, (0, 0, 0, 0))
            sums[t.kind] = (
                before[0] + figures[0],
                before[1] + figures[1],
                before[2] + figures[2],
                before[3] + figures[3],
            )
            found[t.payout_id] = (sums, count + 1)
        return found

    async def payout_of_agency(self, agency_id: str, payout_id: str) -> Payout | None:
        found = self.tables.payouts.get(payout_id)
        return found if found is not None and found.agency_id == agency_id else None

    async def payout_transactions(self, payout_id: str) -> Sequence[dict[str, Any]]:
        settled = [t for t in self.tables.settled.values() if t.payout_id == payout_id]
        rows = []
        for t in sorted(settled, key=lambda t: (t.created, t.balance_transaction_id)):
            entry = self.tables.entries.get(t.balance_transaction_id)
            rows.append(
                t.model_dump()
                | {
                    "workspace_id": entry.workspace_id if entry else None,
                    "invoice_id": entry.invoice_id if entry else None,
                }
            )
        return rows

    # --- what the owner reads -----------------------------------------------------------

    async def summary_json(
        self, agency_id: str, currency: str, start: date, end: date, page: WorkspacePage
    ) -> str:
        self.summaries.append((agency_id, currency, start, end, page))
        return f'{{"agency_id": "{agency_id}", "built_by": "the database"}}'

    def _invoices_of(self, subscription_id: str) -> list[InvoiceFacts]:
        return [i for i in self.tables.invoices.values() if i.subscription_id == subscription_id]

    async def charging_health(self, agency_id: str) -> Sequence[ChargingHealthRow]:
        ours = [s for s in self.tables.subscriptions.values() if s.agency_id == agency_id]
        rows = []
        ordered = sorted(ours, key=lambda s: (s.workspace_id or "\uffff", s.subscription_id))
        for sub in ordered:  # (Postgres puts a null workspace last)
            invoices = self._invoices_of(sub.subscription_id)
            paid = [i.paid_at for i in invoices if i.paid_at is not None]
            failed = [
                i.first_failed_at
                for i in invoices
                if i.first_failed_at is not None and i.status not in (None, "paid", "void")
            ]
            rows.append(
                ChargingHealthRow(
                    subscription_id=sub.subscription_id,
                    workspace_id=sub.workspace_id,
                    status=sub.status,
                    stripe_product_id=sub.stripe_product_id,
                    last_paid_at=max(paid, default=None),
                    failing_since=min(failed, default=None),
                )
            )
        return rows

    async def mrr_histories(
        self, agencies: Sequence[str], currency: str, workspace_id: str | None
    ) -> dict[str, list[SubscriptionHistory]]:
        found: dict[str, list[SubscriptionHistory]] = {}
        for sub in sorted(self.tables.subscriptions.values(), key=lambda s: s.subscription_id):
            if sub.agency_id not in agencies or workspace_id not in (None, sub.workspace_id):
                continue
            states = tuple(
                SubscriptionState(s.at, s.status, s.monthly_cents)
                for s in self.tables.states.values()
                if s.subscription_id == sub.subscription_id and s.currency == currency
            )
            paid = [i.paid_at for i in self._invoices_of(sub.subscription_id) if i.paid_at]
            if states:
                found.setdefault(sub.agency_id, []).append(
                    SubscriptionHistory(
                        sub.subscription_id, sub.workspace_id or "", min(paid, default=None), states
                    )
                )
        return found


@dataclass
class FakeStripe:
    """What revenue reads from Stripe (``revenue.service.ports.StripeGateway``), each object
    by its id. A read named in ``failing`` raises what the SDK raises once its retries are
    spent (``stripe.APIConnectionError``); every read is in ``calls``."""

    account_agencies: dict[str, str] = field(default_factory=dict)
    """The ``agency_id`` in each account's metadata."""
    invoices: dict[str, StripeDict] = field(default_factory=dict)
    charges: dict[str, StripeDict] = field(default_factory=dict)
    paid_by: dict[str, str] = field(default_factory=dict)
    """The invoice each payment intent paid."""
    balance: dict[str, StripeDict] = field(default_factory=dict)
    """Balance transactions."""
    disputes: dict[str, StripeDict] = field(default_factory=dict)
    fee_refunds: dict[str, list[StripeDict]] = field(default_factory=dict)
    """Per platform fee: the balance transactions its refunds made on the paying account."""
    failing: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def _read(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failing:
            raise stripe.APIConnectionError("Stripe is away")  # type: ignore[no-untyped-call]

    async def agency_of_account(self, account: str) -> str | None:
        self._read("agency_of_account")
        return self.account_agencies.get(account)

    async def invoice(self, account: str, invoice_id: str) -> StripeDict:
        self._read("invoice")
        return self.invoices[invoice_id]

    async def balance_transaction(self, account: str, txn_id: str) -> StripeDict:
        self._read("balance_transaction")
        return self.balance[txn_id]

    async def dispute(self, account: str, dispute_id: str) -> StripeDict:
        self._read("dispute")
        return self.disputes[dispute_id]

    async def charge(self, account: str, charge_id: str) -> StripeDict:
        self._read("charge")
        return self.charges[charge_id]

    async def fee_refund_transactions(self, fee_id: str, account: str) -> list[StripeDict]:
        self._read("fee_refund_transactions")
        return self.fee_refunds.get(fee_id, [])

    async def invoice_paid_by(self, account: str, payment_intent_id: str) -> str | None:
        self._read("invoice_paid_by")
        return self.paid_by.get(payment_intent_id)


class RevenueFakes:
    """revenue's ports on fakes; ``revenue()`` and ``ledger()`` are the services over them."""

    def __init__(self) -> None:
        self.session = cast(AsyncSession, Transaction())
        self.repository = FakeRepository()
        self.stripe = FakeStripe()
        self.outbox = FakeOutbox(self.session)

    @property
    def tables(self) -> Tables:
        return self.repository.tables

    def revenue(self) -> Revenue:
        return Revenue(self.repository, self.stripe)

    def ledger(self) -> Ledger:
        return Ledger(self.session, self.repository, self.outbox, self.stripe)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """The edge's unit of work around the block: what it wrote is kept, or, when it
        raises, nothing is (the tables and the outbox are as they were)."""
        tables, published = self.tables.copied(), list(self.outbox.published)
        try:
            yield
        except BaseException:
            self.repository.tables = tables
            self.outbox.published[:] = published
            raise

    def published(self) -> list[tuple[str, str, str]]:
        """What the outbox holds: (topic, event type, key) of each event, in order."""
        return [(p.topic, p.event_type, p.key) for p in self.outbox.published]
