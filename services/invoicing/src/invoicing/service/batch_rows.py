"""The rows a batch of the mirror's events touches, read and locked together before its first
event and written back together after its last: ``BatchRows`` answers the mirror's queries
(``MirrorRepository``) from them as the database would answer them an event at a time, each
event seeing what the events before it changed. A row the batch did not load is read (and
locked, as the mirror locks it) when an event first asks for it.

A row inserted ahead of the event that first sees it (``insert_*``) is not there for the
events before that one: until an event ensures it, it answers as a missing row does."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from invoicing.models import Invoice, Payment, Refund, Subscription
from invoicing.service.ports import MirrorBatchRepository

Row = TypeVar("Row", Invoice, Payment, Refund, Subscription)


@dataclass
class Wanted:
    """What a batch's events name, read before the first event is applied."""

    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Client invoices the events carry: their first sight (the first event's), by Stripe id."""
    refreshed: set[str] = field(default_factory=set)
    """Invoices payments' events name."""
    payments: dict[str, str | None] = field(default_factory=dict)
    """Payment intents the events tell of: their account (the first event's)."""
    charges: set[str] = field(default_factory=set)
    """Charges whose payment intent only the database knows (an application fee's)."""
    subscriptions: dict[str, str] = field(default_factory=dict)
    """Subscriptions the events carry: their first status."""
    billed_by: set[str] = field(default_factory=set)
    """Subscriptions the invoices the events carry bill for."""


@dataclass
class _Kept(Generic[Row]):
    """One table's rows in the batch, by key, with each as it was read."""

    columns: tuple[str, ...]
    rows: dict[str, Row] = field(default_factory=dict)
    read: dict[str, tuple[Any, ...] | None] = field(default_factory=dict)
    """Each row's values as read (None: first made in the batch)."""
    locked: set[str] = field(default_factory=set)
    unborn: set[str] = field(default_factory=set)
    """Inserted ahead of the event that first sees them."""
    absent: set[str] = field(default_factory=set)
    """Looked for and not there."""

    def _values(self, row: Row) -> tuple[Any, ...]:
        return tuple(getattr(row, column) for column in self.columns)

    def keep(self, rows: Mapping[str, Row], *, locked: bool) -> None:
        """Rows as read; a locked one replaces an unlocked copy (never changed)."""
        for key, row in rows.items():
            if locked or key not in self.rows:
                self.rows[key] = row
                self.read[key] = self._values(row)
            if locked:
                self.locked.add(key)
            self.absent.discard(key)

    def add(self, key: str, row: Row) -> None:
        self.rows[key] = row
        self.read[key] = None

    def get(self, key: str) -> Row | None:
        return None if key in self.unborn else self.rows.get(key)

    def there(self) -> Iterable[tuple[str, Row]]:
        return ((key, row) for key, row in self.rows.items() if key not in self.unborn)

    def born(self, key: str, values: Mapping[str, Any]) -> Row:
        """The row an event ensures: made as its first sight says when inserted ahead."""
        row = self.rows[key]
        if key in self.unborn:
            self.unborn.discard(key)
            for name, value in values.items():
                setattr(row, name, value)
        return row

    def changed(self) -> list[Row]:
        return [row for key, row in self.rows.items() if self.read[key] != self._values(row)]


def _kept(model: type[Row]) -> _Kept[Row]:
    return _Kept(tuple(model.model_fields))


class BatchRows:
    """``MirrorRepository`` over the rows of one batch (``load`` them first, ``save`` them
    last)."""

    def __init__(self, repository: MirrorBatchRepository) -> None:
        self.repository = repository
        self.invoices = _kept(Invoice)
        self.payments = _kept(Payment)
        self.subscriptions = _kept(Subscription)
        self.refunds = _kept(Refund)
        self._payments_known: set[str] = set()
        """Invoices whose every payment is kept."""
        self._refunds_known: set[str] = set()
        """Payment intents whose every refund is kept."""
        self._agencies: dict[str, str | None] = {}

    async def load(self, wanted: Wanted) -> None:
        """Insert the first sights and read the rows ``wanted`` names, a few statements for
        the batch: subscriptions, payments, then invoices, each table locked in key order
        (the order an event at a time locks them in)."""
        repository = self.repository
        if wanted.subscriptions:
            self.subscriptions.unborn |= await repository.insert_subscriptions(wanted.subscriptions)
            self.subscriptions.keep(
                await repository.subscriptions_of(wanted.subscriptions, for_update=True),
                locked=True,
            )
        if wanted.payments or wanted.charges:
            self.payments.unborn |= await repository.insert_payments(wanted.payments)
            self.payments.keep(
                await repository.payments_locked(wanted.payments, wanted.charges), locked=True
            )
        linked = {p.stripe_invoice_id for _, p in self.payments.there() if p.stripe_invoice_id}
        self.invoices.unborn |= await repository.insert_invoices(list(wanted.invoices.values()))
        await self._lock_invoices({*wanted.invoices, *wanted.refreshed, *linked})
        invoices = self.invoices.rows
        await self._read_payments_of(invoices)
        billed_by = [row.stripe_subscription_id for row in invoices.values()]
        await self._read_subscriptions({s for s in (*wanted.billed_by, *billed_by) if s})
        await self._read_refunds_of(self.payments.locked)

    async def save(self) -> None:
        """Write every row the batch changed: one statement a table."""
        await self.repository.save_subscriptions(self.subscriptions.changed())
        await self.repository.save_payments(self.payments.changed())
        await self.repository.save_invoices(self.invoices.changed())
        await self.repository.save_refunds(self.refunds.changed())

    async def _lock_invoices(self, stripe_invoice_ids: Collection[str]) -> None:
        wanted = set(stripe_invoice_ids) - self.invoices.rows.keys() - self.invoices.absent
        if wanted:
            found = await self.repository.invoices_locked(wanted)
            self.invoices.keep(found, locked=True)
            self.invoices.absent |= wanted - found.keys()

    async def _read_payments_of(self, stripe_invoice_ids: Collection[str]) -> None:
        wanted = set(stripe_invoice_ids) - self._payments_known
        if wanted:
            found = await self.repository.payments_of_invoices(wanted)
            self.payments.keep({row.payment_intent_id: row for row in found}, locked=False)
            self._payments_known |= wanted

    async def _read_subscriptions(self, stripe_subscription_ids: Collection[str]) -> None:
        kept = self.subscriptions
        wanted = set(stripe_subscription_ids) - kept.rows.keys() - kept.absent
        if wanted:
            found = await self.repository.subscriptions_of(wanted)
            kept.keep(found, locked=False)
            kept.absent |= wanted - found.keys()

    async def _read_refunds_of(self, payment_intent_ids: Collection[str]) -> None:
        wanted = set(payment_intent_ids) - self._refunds_known
        if wanted:
            found = await self.repository.refunds_of_payments(wanted)
            self.refunds.keep({row.refund_id: row for row in found}, locked=False)
            self._refunds_known |= wanted

    # --- MirrorRepository ------------------------------------------------------------------

    async def flush(self) -> None:
        """Nothing to write yet: ``save`` writes the batch's changes after its last event."""

    async def agency_of_account(self, account_id: str) -> str | None:
        if account_id not in self._agencies:
            self._agencies[account_id] = await self.repository.agency_of_account(account_id)
        return self._agencies[account_id]

    async def invoice(self, stripe_invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        await self._lock_invoices([stripe_invoice_id])  # kept invoices are all locked
        return self.invoices.get(stripe_invoice_id)

    async def ensure_invoice(self, values: dict[str, Any]) -> Invoice:
        key = values["stripe_invoice_id"]
        if key not in self.invoices.rows:
            self.invoices.unborn |= await self.repository.insert_invoices([values])
            self.invoices.absent.discard(key)
            await self._lock_invoices([key])
        return self.invoices.born(key, values)

    async def open_invoices_of_subscription(self, stripe_subscription_id: str) -> Sequence[str]:
        kept = self.invoices
        stored = await self.repository.open_invoices_of_subscription(stripe_subscription_id)
        open_here = {
            key
            for key, row in kept.there()
            if row.stripe_subscription_id == stripe_subscription_id and row.status == "open"
        }
        return sorted({key for key in stored if key not in kept.rows} | open_here)

    async def payments_of(self, stripe_invoice_ids: Sequence[str]) -> Sequence[Payment]:
        await self._read_payments_of(stripe_invoice_ids)
        wanted = set(stripe_invoice_ids)
        found = [row for _, row in self.payments.there() if row.stripe_invoice_id in wanted]
        return sorted(found, key=lambda row: row.payment_intent_id)

    async def ensure_payment(self, payment_intent_id: str, account: str | None) -> Payment:
        kept = self.payments
        if payment_intent_id not in kept.locked:
            kept.unborn |= await self.repository.insert_payments({payment_intent_id: account})
            kept.keep(await self.repository.payments_locked([payment_intent_id]), locked=True)
        return kept.born(payment_intent_id, {"stripe_account_id": account})

    async def payment_by_charge(self, charge_id: str) -> Payment | None:
        kept = self.payments
        for key, row in kept.there():
            if key in kept.locked and row.charge_id == charge_id:
                return row
        found = await self.repository.payments_locked([], [charge_id])
        kept.keep({key: row for key, row in found.items() if key not in kept.locked}, locked=True)
        return next((row for key, row in kept.there() if key in found), None)

    async def subscription(self, stripe_subscription_id: str) -> Subscription | None:
        await self._read_subscriptions([stripe_subscription_id])
        return self.subscriptions.get(stripe_subscription_id)

    async def ensure_subscription(self, stripe_subscription_id: str, status: str) -> Subscription:
        kept, key = self.subscriptions, stripe_subscription_id
        if key not in kept.locked:
            kept.unborn |= await self.repository.insert_subscriptions({key: status})
            kept.keep(await self.repository.subscriptions_of([key], for_update=True), locked=True)
        return kept.born(key, {"status": status})

    async def workspace_of_customer(
        self, account_id: str | None, customer_id: str | None
    ) -> str | None:
        if account_id is None or customer_id is None:
            return None
        kept: list[tuple[str, Invoice | Subscription]] = [
            *self.subscriptions.there(),
            *self.invoices.there(),
        ]
        for _, row in kept:
            customer = (row.stripe_account_id, row.stripe_customer_id)
            if customer == (account_id, customer_id) and row.workspace_id is not None:
                return row.workspace_id
        return await self.repository.workspace_of_customer(account_id, customer_id)

    async def remember_refund(
        self, refund_id: str, payment_intent_id: str, amount: int, *, failed: bool
    ) -> None:
        await self._read_refunds_of([payment_intent_id])
        known = self.refunds.rows.get(refund_id)
        if known is None:
            self.refunds.add(
                refund_id,
                Refund(
                    refund_id=refund_id,
                    payment_intent_id=payment_intent_id,
                    amount=amount,
                    failed=failed,
                ),
            )
        else:
            known.failed = known.failed or failed

    async def refunds_of(self, payment_intent_id: str) -> Sequence[Refund]:
        await self._read_refunds_of([payment_intent_id])
        refunds = self.refunds.rows.values()
        return [row for row in refunds if row.payment_intent_id == payment_intent_id]
