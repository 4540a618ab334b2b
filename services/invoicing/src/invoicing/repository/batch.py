"""The invoice mirror's queries for a batch of events (``invoicing.service.ports``'s
``MirrorBatchRepository``): the rows a batch touches read or locked together, in key order
(two transactions locking some of the same rows wait for each other, never in a circle),
and written back together, one statement a table with a list of parameters (a ``values``
list would compile anew for every batch size).

Rows are made as the ORM would load them but belong to no session: the session never
flushes them, only ``save_*`` writes what changed."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import attributes, configure_mappers

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


class BatchRepository(InvoicingRepository):
    """The queries of one transaction (``session``), a batch of rows at a time."""

    async def _rows(self, model: type[Row], query: Any) -> list[Row]:
        found = await self.session.execute(query)
        configure_mappers()  # (done once, by the first query of the ORM's otherwise)
        return [_loaded(model, row) for row in found.mappings()]

    async def _inserted(self, table: Table, key: str, rows: list[dict[str, Any]]) -> set[str]:
        if not rows:
            return set()
        rows.sort(key=lambda row: str(row[key]))
        statement = insert(table).on_conflict_do_nothing().returning(table.c[key])
        return set((await self.session.execute(statement, rows)).scalars())

    async def insert_invoices(self, first_sights: Sequence[dict[str, Any]]) -> set[str]:
        rows = [{"id": invoice_id_for(v["stripe_invoice_id"]), **v} for v in first_sights]
        # No conflict target: a first sight at the same moment (the API and a consumer) can
        # meet on either unique index.
        return await self._inserted(_INVOICES, "stripe_invoice_id", rows)

    async def invoices_locked(self, stripe_invoice_ids: Collection[str]) -> dict[str, Invoice]:
        if not stripe_invoice_ids:
            return {}
        key = _INVOICES.c.stripe_invoice_id
        query = select(_INVOICES).where(key.in_(sorted(stripe_invoice_ids))).order_by(key)
        rows = await self._rows(Invoice, query.with_for_update())
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
        key = _PAYMENTS.c.payment_intent_id
        query = select(_PAYMENTS).where(
            or_(key.in_(sorted(payment_intent_ids)), _PAYMENTS.c.charge_id.in_(sorted(charge_ids)))
        )
        rows = await self._rows(Payment, query.order_by(key).with_for_update())
        return {row.payment_intent_id: row for row in rows}

    async def payments_of_invoices(self, stripe_invoice_ids: Collection[str]) -> list[Payment]:
        if not stripe_invoice_ids:
            return []
        query = select(_PAYMENTS).where(
            _PAYMENTS.c.stripe_invoice_id.in_(sorted(stripe_invoice_ids))
        )
        return await self._rows(Payment, query.order_by(_PAYMENTS.c.payment_intent_id))

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
        key = _SUBSCRIPTIONS.c.stripe_subscription_id
        query = select(_SUBSCRIPTIONS).where(key.in_(sorted(stripe_subscription_ids)))
        query = query.order_by(key)
        rows = await self._rows(Subscription, query.with_for_update() if for_update else query)
        return {row.stripe_subscription_id: row for row in rows}

    async def refunds_of_payments(self, payment_intent_ids: Collection[str]) -> list[Refund]:
        if not payment_intent_ids:
            return []
        query = select(_REFUNDS).where(_REFUNDS.c.payment_intent_id.in_(sorted(payment_intent_ids)))
        return await self._rows(Refund, query.order_by(_REFUNDS.c.refund_id))

    async def _save(
        self, table: Table, rows: Sequence[Any], merge: Callable[[Any], dict[str, Any]] | None
    ) -> None:
        """Each row as it is now, by its primary key; an existing row takes ``merge(excluded)``
        (by default every column as the row says)."""
        if not rows:
            return
        columns = _columns(table)
        (key,) = (c.key for c in table.primary_key.columns)
        statement = insert(table)
        excluded = statement.excluded
        set_ = {c: excluded[c] for c in columns if c != key} if merge is None else merge(excluded)
        set_ |= {c: func.now() for c in _WRITTEN_ON_UPDATE if c in table.c}
        params = sorted((_values(row, columns) for row in rows), key=lambda row: str(row[key]))
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[table.c[key]], set_=set_), params
        )

    async def save_invoices(self, rows: Sequence[Invoice]) -> None:
        await self._save(_INVOICES, rows, None)

    async def save_payments(self, rows: Sequence[Payment]) -> None:
        await self._save(_PAYMENTS, rows, None)

    async def save_subscriptions(self, rows: Sequence[Subscription]) -> None:
        await self._save(_SUBSCRIPTIONS, rows, None)

    async def save_refunds(self, rows: Sequence[Refund]) -> None:
        # A refund is kept once; its failure, once told, stays.
        await self._save(
            _REFUNDS, rows, lambda excluded: {"failed": _REFUNDS.c.failed | excluded.failed}
        )
