"""Fakes of invoicing's ports (``invoicing.service.ports``) for the fast tier, in the manner of
cosmicpython's ``FakeRepository`` and ``FakeUnitOfWork``: the tables, Stripe, the outbox, the
pending records and the workspaces' customers, each kept in dicts and lists.

``FakeUnitOfWork`` plays the edge: each ``transaction`` keeps what its block wrote, or, when
the block raises, leaves the tables, the outbox and the pending records' ``finish`` as they
were (the kit's ``open`` and ``withdraw`` commit on their own, as the real ones do). The
session a transaction hands the service is a stand-in that fails if the service uses it for
anything but handing it to the outbox and the pending records."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event
from billing_kit.errors import (
    BillingError,
    NotFoundError,
)
from invoicing.models import Agency, Invoice, Payment, Product, Refund, Subscription
from invoicing.repository import invoice_id_for
from invoicing.service import Invoicing, WorkspaceCustomer
from invoicing.service.mirror import Mirror
from invoicing.service.mirror_batch import MirrorBatch
from invoicing.stripe_gateway import OneOffInvoice
from tests.helpers.outbox import FakeOutbox
from tests.helpers.pending_commands import FakeCommands

Row = TypeVar("Row", Agency, Invoice, Payment, Refund, Subscription, Product)
T = TypeVar("T")

INVOICE_STATUSES_SHOWN = ("open", "paid", "void", "uncollectible")


class _UnusableSession:
    """The session of a fake transaction: the service only hands it on."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the service used its session ({name}): queries go to its ports")


def _copied(row: Row) -> Row:
    columns = sqlalchemy.inspect(type(row)).column_attrs
    return type(row)(**{c.key: copy.deepcopy(getattr(row, c.key)) for c in columns})


@dataclass
class FakeTables:
    """The rows of invoicing's schema, by primary key (invoices by Stripe id)."""

    agencies: dict[str, Agency] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)

    def copy(self) -> FakeTables:
        return FakeTables(
            **{
                name: {key: _copied(row) for key, row in getattr(self, name).items()}
                for name in self.__dataclass_fields__
            }
        )


class FakeBatchQueries:
    """``MirrorBatchRepository``'s set-based queries over ``FakeRepository``'s tables."""

    tables: FakeTables
    queries: list[str]

    def _asked(self, query: str) -> None:
        self.queries.append(query)

    async def insert_invoices(self, first_sights: Sequence[dict[str, Any]]) -> set[str]:
        self._asked("insert_invoices")
        inserted = {v["stripe_invoice_id"] for v in first_sights} - self.tables.invoices.keys()
        for values in first_sights:
            key = values["stripe_invoice_id"]
            if key in inserted and key not in self.tables.invoices:
                self.tables.invoices[key] = Invoice(id=invoice_id_for(key), **values)
        return inserted

    async def invoices_locked(self, stripe_invoice_ids: Collection[str]) -> dict[str, Invoice]:
        self._asked("invoices_locked")
        found = self.tables.invoices
        return {key: _copied(found[key]) for key in sorted(stripe_invoice_ids) if key in found}

    async def insert_payments(self, first_sights: Mapping[str, str | None]) -> set[str]:
        self._asked("insert_payments")
        inserted = set(first_sights) - self.tables.payments.keys()
        for key in inserted:
            self.tables.payments[key] = Payment(
                payment_intent_id=key, stripe_account_id=first_sights[key]
            )
        return inserted

    async def payments_locked(
        self, payment_intent_ids: Collection[str], charge_ids: Collection[str] = ()
    ) -> dict[str, Payment]:
        self._asked("payments_locked")
        return {
            key: _copied(row)
            for key, row in sorted(self.tables.payments.items())
            if key in payment_intent_ids or (row.charge_id and row.charge_id in charge_ids)
        }

    async def payments_of_invoices(self, stripe_invoice_ids: Collection[str]) -> list[Payment]:
        self._asked("payments_of_invoices")
        found = sorted(self.tables.payments.items())
        return [_copied(row) for _, row in found if row.stripe_invoice_id in stripe_invoice_ids]

    async def insert_subscriptions(self, first_sights: Mapping[str, str]) -> set[str]:
        self._asked("insert_subscriptions")
        inserted = set(first_sights) - self.tables.subscriptions.keys()
        for key in inserted:
            self.tables.subscriptions[key] = Subscription(
                stripe_subscription_id=key, status=first_sights[key], seen_at=-1
            )
        return inserted

    async def subscriptions_of(
        self, stripe_subscription_ids: Collection[str], *, for_update: bool = False
    ) -> dict[str, Subscription]:
        self._asked("subscriptions_of")
        found = self.tables.subscriptions
        return {key: _copied(found[key]) for key in sorted(stripe_subscription_ids) if key in found}

    async def refunds_of_payments(self, payment_intent_ids: Collection[str]) -> list[Refund]:
        self._asked("refunds_of_payments")
        refunds = sorted(self.tables.refunds.items())
        return [_copied(row) for _, row in refunds if row.payment_intent_id in payment_intent_ids]

    async def save_invoices(self, rows: Sequence[Invoice]) -> None:
        self._asked("save_invoices")
        self.tables.invoices.update((row.stripe_invoice_id, _copied(row)) for row in rows)

    async def save_payments(self, rows: Sequence[Payment]) -> None:
        self._asked("save_payments")
        self.tables.payments.update((row.payment_intent_id, _copied(row)) for row in rows)

    async def save_subscriptions(self, rows: Sequence[Subscription]) -> None:
        self._asked("save_subscriptions")
        saved = ((row.stripe_subscription_id, _copied(row)) for row in rows)
        self.tables.subscriptions.update(saved)

    async def save_refunds(self, rows: Sequence[Refund]) -> None:
        self._asked("save_refunds")
        for row in rows:
            known = self.tables.refunds.get(row.refund_id)
            if known is None:
                self.tables.refunds[row.refund_id] = _copied(row)
            else:
                known.failed = known.failed or row.failed


class FakeRepository(FakeBatchQueries):
    """``invoicing.service.ports.Repository`` and ``MirrorBatchRepository`` over
    ``FakeTables``: the same answers as ``invoicing.repository`` (filters, order, what an
    ``ensure_*`` inserts). A batch's rows are copies, the tables change only when they are
    saved; each query a batch asks is named in ``queries``."""

    def __init__(self, tables: FakeTables) -> None:
        self.tables = tables
        self.flushes = 0
        self.queries: list[str] = []

    async def flush(self) -> None:
        self.flushes += 1

    async def agency(self, agency_id: str) -> Agency | None:
        return self.tables.agencies.get(agency_id)

    async def agency_of_account(self, account_id: str) -> str | None:
        self._asked("agency_of_account")
        found = (a for a in self.tables.agencies.values() if a.stripe_account_id == account_id)
        return next((a.agency_id for a in found), None)

    async def invoice(self, stripe_invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        return self.tables.invoices.get(stripe_invoice_id)

    async def ensure_invoice(self, values: dict[str, Any]) -> Invoice:
        stripe_invoice_id = values["stripe_invoice_id"]
        if stripe_invoice_id not in self.tables.invoices:
            row = Invoice(id=invoice_id_for(stripe_invoice_id), **values)
            self.tables.invoices[stripe_invoice_id] = row
        return self.tables.invoices[stripe_invoice_id]

    async def workspace_invoices(
        self, agency_id: str, workspace_id: str, *, outstanding: bool = False
    ) -> Sequence[Invoice]:
        statuses = ("open",) if outstanding else INVOICE_STATUSES_SHOWN
        found = [
            row
            for row in self.tables.invoices.values()
            if (row.agency_id, row.workspace_id) == (agency_id, workspace_id)
            and row.status in statuses
        ]
        found.sort(key=lambda row: row.id)
        found.sort(key=lambda row: row.stripe_created_at, reverse=True)
        return found

    async def open_invoices_of_subscription(self, stripe_subscription_id: str) -> Sequence[str]:
        self._asked("open_invoices_of_subscription")
        return sorted(
            row.stripe_invoice_id
            for row in self.tables.invoices.values()
            if row.stripe_subscription_id == stripe_subscription_id and row.status == "open"
        )

    async def payments_of(self, stripe_invoice_ids: Sequence[str]) -> Sequence[Payment]:
        found = [
            p for p in self.tables.payments.values() if p.stripe_invoice_id in stripe_invoice_ids
        ]
        return sorted(found, key=lambda p: p.payment_intent_id)

    async def ensure_payment(self, payment_intent_id: str, account: str | None) -> Payment:
        payments = self.tables.payments
        if payment_intent_id not in payments:
            payments[payment_intent_id] = Payment(
                payment_intent_id=payment_intent_id, stripe_account_id=account
            )
        return payments[payment_intent_id]

    async def payment_by_charge(self, charge_id: str) -> Payment | None:
        return next((p for p in self.tables.payments.values() if p.charge_id == charge_id), None)

    async def subscription(self, stripe_subscription_id: str) -> Subscription | None:
        return self.tables.subscriptions.get(stripe_subscription_id)

    async def ensure_subscription(self, stripe_subscription_id: str, status: str) -> Subscription:
        subscriptions = self.tables.subscriptions
        if stripe_subscription_id not in subscriptions:
            subscriptions[stripe_subscription_id] = Subscription(
                stripe_subscription_id=stripe_subscription_id, status=status, seen_at=-1
            )
        return subscriptions[stripe_subscription_id]

    async def workspace_subscriptions(
        self, agency_id: str, workspace_id: str, statuses: Sequence[str]
    ) -> Sequence[Subscription]:
        found = [
            sub
            for sub in self.tables.subscriptions.values()
            if (sub.agency_id, sub.workspace_id) == (agency_id, workspace_id)
            and sub.status in statuses
        ]
        return sorted(found, key=lambda sub: sub.stripe_subscription_id)

    def _mirrored(self) -> list[Invoice | Subscription]:
        return [*self.tables.invoices.values(), *self.tables.subscriptions.values()]

    async def workspace_held_by_another_agency(self, agency_id: str, workspace_id: str) -> bool:
        return any(
            row.workspace_id == workspace_id and row.agency_id not in (None, agency_id)
            for row in self._mirrored()
        )

    async def workspace_customer(self, agency_id: str, workspace_id: str) -> tuple[str, str] | None:
        for row in self._mirrored():
            account, customer = row.stripe_account_id, row.stripe_customer_id
            held = (row.agency_id, row.workspace_id) == (agency_id, workspace_id)
            if held and account is not None and customer is not None:
                return account, customer
        return None

    async def workspace_of_customer(
        self, account_id: str | None, customer_id: str | None
    ) -> str | None:
        self._asked("workspace_of_customer")
        if account_id is None or customer_id is None:
            return None
        rows: list[Invoice | Subscription] = [
            *self.tables.subscriptions.values(),
            *self.tables.invoices.values(),
        ]
        return next(
            (
                row.workspace_id
                for row in rows
                if (row.stripe_account_id, row.stripe_customer_id) == (account_id, customer_id)
                and row.workspace_id is not None
            ),
            None,
        )

    async def products_billed(self, subscriptions: Sequence[Subscription]) -> dict[str, Product]:
        prices = {sub.stripe_price_id for sub in subscriptions if sub.stripe_price_id}
        products = self.tables.products.values()
        return {p.stripe_price_id: p for p in products if p.stripe_price_id in prices}

    async def remember_refund(
        self, refund_id: str, payment_intent_id: str, amount: int, *, failed: bool
    ) -> None:
        known = self.tables.refunds.get(refund_id)
        if known is None:
            self.tables.refunds[refund_id] = Refund(
                refund_id=refund_id,
                payment_intent_id=payment_intent_id,
                amount=amount,
                failed=failed,
            )
        else:
            known.failed = known.failed or failed

    async def refunds_of(self, payment_intent_id: str) -> Sequence[Refund]:
        refunds = self.tables.refunds.values()
        return [r for r in refunds if r.payment_intent_id == payment_intent_id]


@dataclass
class FakeStripe:
    """Stripe as invoicing calls it (``invoicing.service.ports.StripeGateway``): invoices by
    id, the invoice each payment intent paid, subscriptions by id. A method named in
    ``failures`` raises that error (``issue_one_off`` after making its draft, as a refusal
    half-way does); every call is in ``calls``."""

    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    paid_by: dict[str, str] = field(default_factory=dict)
    """Invoice id by payment intent id."""
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    now: int = 1_780_000_000

    def _call(self, name: str) -> None:
        self.calls.append(name)
        failure = self.failures.get(name)
        if failure is not None and name != "issue_one_off":
            raise failure

    async def invoice(self, account_id: str, invoice_id: str) -> dict[str, Any] | None:
        self._call("invoice")
        found = self.invoices.get(invoice_id)
        return copy.deepcopy(found) if found is not None else None

    async def invoice_of_payment_intent(
        self, account_id: str, payment_intent_id: str
    ) -> str | None:
        self._call("invoice_of_payment_intent")
        return self.paid_by.get(payment_intent_id)

    async def subscription(self, account_id: str, subscription_id: str) -> dict[str, Any] | None:
        self._call("subscription")
        return copy.deepcopy(self.subscriptions.get(subscription_id))

    def one_offs(self, one_off_id: str) -> list[dict[str, Any]]:
        """The invoices Stripe holds for a one-off command, whatever their status."""
        found = self.invoices.values()
        return [i for i in found if i["metadata"].get("one_off_id") == one_off_id]

    async def issue_one_off(self, command: OneOffInvoice) -> dict[str, Any]:
        self._call("issue_one_off")
        made = self.one_offs(command.command_id)  # the create replays under the command's key
        invoice = made[0] if made else self._draft(command)
        if "issue_one_off" in self.failures:
            raise self.failures["issue_one_off"]
        if invoice["status"] == "draft":
            invoice["status"] = "open"
            invoice["status_transitions"]["finalized_at"] = self.now + 1
            invoice["hosted_invoice_url"] = f"https://invoice.stripe.test/{invoice['id']}"
        return copy.deepcopy(invoice)

    def _draft(self, command: OneOffInvoice) -> dict[str, Any]:
        self.now += 10
        invoice: dict[str, Any] = {
            "id": f"in_{uuid.uuid4().hex[:24]}",
            "status": "draft",
            "customer": command.customer_id,
            "description": command.description,
            "currency": command.currency,
            "amount_due": command.amount_cents,
            "amount_paid": 0,
            "amount_remaining": command.amount_cents,
            "subtotal": command.amount_cents,
            "application_fee_amount": command.application_fee_cents,
            "attempt_count": 0,
            "created": self.now,
            "status_transitions": {"finalized_at": None, "paid_at": None},
            "metadata": dict(command.metadata),
            "hosted_invoice_url": None,
            "account": command.account_id,
        }
        self.invoices[invoice["id"]] = invoice
        return invoice

    async def withdraw_one_off(self, account_id: str, customer_id: str, one_off_id: str) -> None:
        self._call("withdraw_one_off")
        for invoice in self.one_offs(one_off_id):
            if invoice["status"] == "draft":
                del self.invoices[invoice["id"]]
            elif invoice["status"] == "open":
                invoice["status"] = "void"

    async def customer_portal_url(self, account_id: str, customer_id: str, return_url: str) -> str:
        self._call("customer_portal_url")
        return f"https://billing.stripe.test/{account_id}/{customer_id}?return_url={return_url}"


@dataclass
class FakeCustomers:
    """The workspaces' customers subscriptions would answer with; ``refusal`` is raised
    instead (its error for the request), an unknown workspace is not found."""

    known: dict[tuple[str, str], WorkspaceCustomer] = field(default_factory=dict)
    refusal: BillingError | None = None
    asked: list[tuple[str, str]] = field(default_factory=list)

    async def customer_for(self, agency_id: str, workspace_id: str) -> WorkspaceCustomer:
        self.asked.append((agency_id, workspace_id))
        if self.refusal is not None:
            raise self.refusal
        found = self.known.get((agency_id, workspace_id))
        if found is None:
            raise NotFoundError("No such workspace.")
        return found


@dataclass
class FakeUnitOfWork:
    """The edge and everything behind invoicing's ports, in memory."""

    tables: FakeTables = field(default_factory=FakeTables)
    outbox: FakeOutbox = field(default_factory=FakeOutbox)
    stripe: FakeStripe = field(default_factory=FakeStripe)
    commands: FakeCommands = field(default_factory=lambda: FakeCommands(defer_finish=True))
    customers: FakeCustomers = field(default_factory=FakeCustomers)
    sessions: list[AsyncSession] = field(default_factory=list)
    """The session of each transaction, in order: what the outbox rows name theirs by."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[tuple[AsyncSession, FakeRepository]]:
        """One transaction of the edge: kept when the block ends, undone when it raises."""
        kept, published = self.tables.copy(), len(self.outbox.published)
        session = cast(AsyncSession, _UnusableSession())
        self.sessions.append(session)
        try:
            yield session, FakeRepository(self.tables)
        except BaseException:
            self.tables = kept
            del self.outbox.published[published:]
            self.commands.rollback()
            raise
        self.commands.commit()

    async def in_mirror(self, work: Callable[[Mirror], Awaitable[T]]) -> T:
        """``work`` done by the mirror in one consumed event's transaction."""
        async with self.transaction() as (session, repository):
            return await work(Mirror(session, repository, self.outbox, self.stripe))

    async def in_batch(self, events: Sequence[Event]) -> FakeRepository:
        """``events`` applied by the mirror together, as one consumed batch's transaction;
        the repository it asked."""
        async with self.transaction() as (session, repository):
            await MirrorBatch(session, repository, self.outbox, self.stripe).apply(events)
        return repository

    async def in_invoicing(self, work: Callable[[Invoicing], Awaitable[T]]) -> T:
        """``work`` done by ``Invoicing`` in one request's transaction."""
        async with self.transaction() as (session, repository):
            invoicing = Invoicing(
                session, repository, self.outbox, self.stripe, self.customers, self.commands
            )
            return await work(invoicing)

    def agency(self, agency_id: str, account_id: str | None, **profile: Any) -> Agency:
        """The agency's replica as catalog's profile left it."""
        row = Agency(
            agency_id=agency_id,
            stripe_account_id=account_id,
            charges_enabled=profile.pop("charges_enabled", account_id is not None),
            profile_at=datetime.fromtimestamp(0, UTC),
            **profile,
        )
        self.tables.agencies[agency_id] = row
        return row
