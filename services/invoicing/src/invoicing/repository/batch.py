"""The invoice mirror's queries for a batch of events (``invoicing.service.ports``'s
``MirrorBatchRepository``): the rows a batch touches read or locked together, in key order
(two transactions locking some of the same rows wait for each other, never in a circle),
and written back together, one statement a table.

Each statement's text is the same whatever the batch's size (``billing_kit.sql_arrays``):
keys are bound as one array (``= ANY``), rows are inserted from one array per column
(``unnest``), so SQLAlchemy compiles each once, asyncpg prepares it once a connection and
Postgres plans it once; the statements are built once and reused.

Rows are made as the ORM would load them but belong to no session: the session never
flushes them, only ``save_*`` writes what changed."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Table, func, or_, select
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.orm import attributes, configure_mappers
from sqlalchemy.sql.dml import ReturningInsert

from billing_kit.sql_arrays import any_of, arrays, unnest_insert
from invoicing.models import Invoice, Payment, Refund, Subscription
from invoicing.repository import InvoicingRepository, invoice_id_for

Row = TypeVar("Row", Invoice, Payment, Refund, Subscription)

_INVOICES: Table = Invoice.__table__  # type: ignore[attr-defined]
_PAYMENTS: Table = Payment.__table__  # type: ignore[attr-defined]
_REFUNDS: Table = Refund.__table__  # type: ignore[attr-defined]
_SUBSCRIPTIONS: Table = Subscription.__table__  # type: ignore[attr-defined]
_WRITTEN_ON_UPDATE = {"updated_at"}
"""Columns the database sets when a row changes."""


def _loaded(model: type[Row], values: Mapping[Any, Any]) -> Row:
    """A row as the ORM loads one (no constructor, no validation), in no session."""
    row: Row = attributes.manager_of_class(model).new_instance()
    row.__dict__.update(values)
    return row


def _columns(table: Table) -> list[str]:
    return [c.key for c in table.columns if c.key not in _WRITTEN_ON_UPDATE]


def _values(row: Any, columns: Sequence[str]) -> dict[str, Any]:
    return {column: getattr(row, column) for column in columns}


def _keyed(table: Table, key: str, *, lock: bool = False) -> Any:
    """The table's rows whose ``key`` is in the list ``keys``, in key order."""
    query = select(table).where(any_of(table.c[key], "keys")).order_by(table.c[key])
    return query.with_for_update() if lock else query


_INVOICES_LOCKED = _keyed(_INVOICES, "stripe_invoice_id", lock=True)
_SUBSCRIPTIONS_OF = _keyed(_SUBSCRIPTIONS, "stripe_subscription_id")
_SUBSCRIPTIONS_LOCKED = _keyed(_SUBSCRIPTIONS, "stripe_subscription_id", lock=True)
_PAYMENTS_LOCKED = (
    select(_PAYMENTS)
    .where(
        or_(
            any_of(_PAYMENTS.c.payment_intent_id, "keys"),
            any_of(_PAYMENTS.c.charge_id, "charges"),
        )
    )
    .order_by(_PAYMENTS.c.payment_intent_id)
    .with_for_update()
)
_PAYMENTS_OF_INVOICES = (
    select(_PAYMENTS)
    .where(any_of(_PAYMENTS.c.stripe_invoice_id, "keys"))
    .order_by(_PAYMENTS.c.payment_intent_id)
)
_REFUNDS_OF_PAYMENTS = (
    select(_REFUNDS)
    .where(any_of(_REFUNDS.c.payment_intent_id, "keys"))
    .order_by(_REFUNDS.c.refund_id)
)


class _Saving(NamedTuple):
    statement: Insert
    columns: list[str]
    """The columns written (given as one array each)."""
    key: str


@functools.cache
def _first_sights(table: Table, key: str, columns: tuple[str, ...]) -> ReturningInsert[Any]:
    """Rows of ``columns`` inserted unless there (on any unique index); the keys that were
    new."""
    return unnest_insert(table, columns).on_conflict_do_nothing().returning(table.c[key])


def _saving(table: Table, merge: Callable[[Any], dict[str, Any]] | None = None) -> _Saving:
    """Rows written whole by their primary key; an existing row takes ``merge(excluded)``
    (by default every column as the row says) and the database's time of change."""
    columns = _columns(table)
    (key,) = (c.key for c in table.primary_key.columns)
    statement = unnest_insert(table, columns)
    excluded = statement.excluded
    set_ = {c: excluded[c] for c in columns if c != key} if merge is None else merge(excluded)
    set_ |= {c: func.now() for c in _WRITTEN_ON_UPDATE if c in table.c}
    statement = statement.on_conflict_do_update(index_elements=[table.c[key]], set_=set_)
    return _Saving(statement, columns, key)


_SAVE_INVOICES = _saving(_INVOICES)
_SAVE_PAYMENTS = _saving(_PAYMENTS)
_SAVE_SUBSCRIPTIONS = _saving(_SUBSCRIPTIONS)
# A refund is kept once; its failure, once told, stays.
_SAVE_REFUNDS = _saving(_REFUNDS, lambda excluded: {"failed": _REFUNDS.c.failed | excluded.failed})


class BatchRepository(InvoicingRepository):
    """The queries of one transaction (``session``), a batch of rows at a time."""

    async def _rows(self, model: type[Row], query: Any, **keys: Collection[str]) -> list[Row]:
        params = {name: sorted(values) for name, values in keys.items()}
        found = await self.session.execute(query, params)
        configure_mappers()  # (done once, by the first query of the ORM's otherwise)
        return [_loaded(model, row) for row in found.mappings()]

    async def _inserted(self, table: Table, key: str, rows: list[dict[str, Any]]) -> set[str]:
        if not rows:
            return set()
        rows.sort(key=lambda row: str(row[key]))
        columns = tuple(rows[0])
        statement = _first_sights(table, key, columns)
        return set((await self.session.execute(statement, arrays(rows, columns))).scalars())

    async def insert_invoices(self, first_sights: Sequence[dict[str, Any]]) -> set[str]:
        rows = [{"id": invoice_id_for(v["stripe_invoice_id"]), **v} for v in first_sights]
        # No conflict target: a first sight at the same moment (the API and a consumer) can
        # meet on either unique index.
        return await self._inserted(_INVOICES, "stripe_invoice_id", rows)

    async def invoices_locked(self, stripe_invoice_ids: Collection[str]) -> dict[str, Invoice]:
        if not stripe_invoice_ids:
            return {}
        rows = await self._rows(Invoice, _INVOICES_LOCKED, keys=stripe_invoice_ids)
        return {row.stripe_invoice_id: row for row in rows}

    async def insert_payments(self, first_sights: Mapping[str, str | None]) -> set[str]:
        rows = [
            {"payment_intent_id": intent, "stripe_account_id": account}
            for intent, account in first_sights.items()
        ]
        return await self._inserted(_PAYMENTS, "payment_intent_id", rows)

    async def payments_locked(
        self, payment_intent_ids: Collection[str], charge_ids: Collection[str] = ()
    ) -> dict[str, Payment]:
        if not payment_intent_ids and not charge_ids:
            return {}
        rows = await self._rows(
            Payment, _PAYMENTS_LOCKED, keys=payment_intent_ids, charges=charge_ids
        )
        return {row.payment_intent_id: row for row in rows}

    async def payments_of_invoices(self, stripe_invoice_ids: Collection[str]) -> list[Payment]:
        if not stripe_invoice_ids:
            return []
        return await self._rows(Payment, _PAYMENTS_OF_INVOICES, keys=stripe_invoice_ids)

    async def insert_subscriptions(self, first_sights: Mapping[str, str]) -> set[str]:
        rows = [
            {"stripe_subscription_id": subscription, "status": status, "seen_at": -1}
            for subscription, status in first_sights.items()
        ]
        return await self._inserted(_SUBSCRIPTIONS, "stripe_subscription_id", rows)

    async def subscriptions_of(
        self, stripe_subscription_ids: Collection[str], *, for_update: bool = False
    ) -> dict[str, Subscription]:
        if not stripe_subscription_ids:
            return {}
        query = _SUBSCRIPTIONS_LOCKED if for_update else _SUBSCRIPTIONS_OF
        rows = await self._rows(Subscription, query, keys=stripe_subscription_ids)
        return {row.stripe_subscription_id: row for row in rows}

    async def refunds_of_payments(self, payment_intent_ids: Collection[str]) -> list[Refund]:
        if not payment_intent_ids:
            return []
        return await self._rows(Refund, _REFUNDS_OF_PAYMENTS, keys=payment_intent_ids)

    async def _save(self, saving: _Saving, rows: Sequence[Any]) -> None:
        """Each row as it is now, by its primary key, in key order."""
        if not rows:
            return
        statement, columns, key = saving
        ordered = sorted((_values(row, columns) for row in rows), key=lambda row: str(row[key]))
        await self.session.execute(statement, arrays(ordered, columns))

    async def save_invoices(self, rows: Sequence[Invoice]) -> None:
        await self._save(_SAVE_INVOICES, rows)

    async def save_payments(self, rows: Sequence[Payment]) -> None:
        await self._save(_SAVE_PAYMENTS, rows)

    async def save_subscriptions(self, rows: Sequence[Subscription]) -> None:
        await self._save(_SAVE_SUBSCRIPTIONS, rows)

    async def save_refunds(self, rows: Sequence[Refund]) -> None:
        await self._save(_SAVE_REFUNDS, rows)
