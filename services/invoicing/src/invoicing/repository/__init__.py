"""Every query of the invoicing service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from invoicing.models import Agency, Invoice, Payment, Product, Refund, Subscription

_INVOICE_IDS = uuid.UUID("6f0e2a39-1b8c-4d57-8a0b-3c2f9e71d4a5")


def invoice_id_for(stripe_invoice_id: str) -> str:
    """Our id of a Stripe invoice: the same whichever path (webhook or API) sees it first."""
    return str(uuid.uuid5(_INVOICE_IDS, stripe_invoice_id))


async def _locked(session: AsyncSession, model: Any, *where: Any) -> Any:
    query = select(model).where(*where).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def agency(session: AsyncSession, agency_id: str) -> Agency | None:
    return await session.get(Agency, agency_id)


async def agency_of_account(session: AsyncSession, account_id: str) -> str | None:
    query = select(Agency.agency_id).where(Agency.stripe_account_id == account_id)
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def ensure_agency(session: AsyncSession, agency_id: str) -> Agency:
    await session.execute(
        insert(Agency)
        .values(agency_id=agency_id, profile_at=datetime.fromtimestamp(0, UTC))
        .on_conflict_do_nothing()
    )
    found: Agency | None = await _locked(session, Agency, Agency.agency_id == agency_id)
    assert found is not None
    return found


async def invoice(
    session: AsyncSession, stripe_invoice_id: str, *, for_update: bool = False
) -> Invoice | None:
    query = select(Invoice).where(Invoice.stripe_invoice_id == stripe_invoice_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def ensure_invoice(session: AsyncSession, values: dict[str, Any]) -> Invoice:
    """The invoice row, inserted with ``values`` on first sight; locked for this transaction."""
    await session.execute(
        insert(Invoice)
        .values(id=invoice_id_for(values["stripe_invoice_id"]), **values)
        # No conflict target: the id derives from the Stripe id, and a first sight at the
        # same moment (the API and a webhook's consumer) can meet on either unique index.
        .on_conflict_do_nothing()
    )
    found = await invoice(session, values["stripe_invoice_id"], for_update=True)
    assert found is not None
    return found


async def workspace_invoices(
    session: AsyncSession, agency_id: str, workspace_id: str, *, outstanding: bool = False
) -> Sequence[Invoice]:
    query = select(Invoice).where(
        Invoice.agency_id == agency_id,
        Invoice.workspace_id == workspace_id,
        col(Invoice.status).in_(
            ("open",) if outstanding else ("open", "paid", "void", "uncollectible")
        ),
    )
    query = query.order_by(col(Invoice.stripe_created_at).desc(), col(Invoice.id))
    return (await session.execute(query)).scalars().all()


async def open_invoices_of_subscription(
    session: AsyncSession, stripe_subscription_id: str
) -> Sequence[str]:
    query = select(Invoice.stripe_invoice_id).where(
        Invoice.stripe_subscription_id == stripe_subscription_id, Invoice.status == "open"
    )
    # In key order: a subscription's open invoices are always locked in the same order.
    return (await session.execute(query.order_by(Invoice.stripe_invoice_id))).scalars().all()


async def payments_of(
    session: AsyncSession, stripe_invoice_ids: Sequence[str]
) -> Sequence[Payment]:
    query = select(Payment).where(col(Payment.stripe_invoice_id).in_(stripe_invoice_ids))
    return (await session.execute(query.order_by(col(Payment.payment_intent_id)))).scalars().all()


async def ensure_payment(
    session: AsyncSession, payment_intent_id: str, account: str | None
) -> Payment:
    await session.execute(
        insert(Payment)
        .values(payment_intent_id=payment_intent_id, stripe_account_id=account)
        .on_conflict_do_nothing()
    )
    found: Payment | None = await _locked(
        session, Payment, Payment.payment_intent_id == payment_intent_id
    )
    assert found is not None
    return found


async def payment_by_charge(session: AsyncSession, charge_id: str) -> Payment | None:
    query = select(Payment.payment_intent_id).where(Payment.charge_id == charge_id)
    payment_intent_id = (await session.execute(query)).scalars().first()
    if payment_intent_id is None:
        return None
    found: Payment | None = await _locked(
        session, Payment, Payment.payment_intent_id == payment_intent_id
    )
    return found


async def subscription(session: AsyncSession, stripe_subscription_id: str) -> Subscription | None:
    query = select(Subscription).where(
        Subscription.stripe_subscription_id == stripe_subscription_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def ensure_subscription(
    session: AsyncSession, stripe_subscription_id: str, status: str
) -> Subscription:
    await session.execute(
        insert(Subscription)
        .values(stripe_subscription_id=stripe_subscription_id, status=status, seen_at=-1)
        .on_conflict_do_nothing()
    )
    found: Subscription | None = await _locked(
        session, Subscription, Subscription.stripe_subscription_id == stripe_subscription_id
    )
    assert found is not None
    return found


async def workspace_subscriptions(
    session: AsyncSession, agency_id: str, workspace_id: str, statuses: Sequence[str]
) -> Sequence[Subscription]:
    query = select(Subscription).where(
        Subscription.agency_id == agency_id,
        Subscription.workspace_id == workspace_id,
        col(Subscription.status).in_(statuses),
    )
    return (
        (await session.execute(query.order_by(col(Subscription.stripe_subscription_id))))
        .scalars()
        .all()
    )


async def workspace_held_by_another_agency(
    session: AsyncSession, agency_id: str, workspace_id: str
) -> bool:
    """Whether the mirror knows the workspace under another agency (workspace ids are unique
    across agencies: subscriptions refuses another agency's id)."""
    for model in (Invoice, Subscription):
        query = (
            select(model.agency_id)
            .where(model.workspace_id == workspace_id, model.agency_id != agency_id)
            .limit(1)
        )
        if (await session.execute(query)).first() is not None:
            return True
    return False


async def workspace_customer(
    session: AsyncSession, agency_id: str, workspace_id: str
) -> tuple[str, str] | None:
    """``(connected account, Stripe customer)`` of the workspace, as the mirror last saw it."""
    found: list[Any] = []
    for model in (Invoice, Subscription):
        query = (
            select(model.stripe_account_id, model.stripe_customer_id)
            .where(
                model.agency_id == agency_id,
                model.workspace_id == workspace_id,
                col(model.stripe_customer_id).is_not(None),
                col(model.stripe_account_id).is_not(None),
            )
            .limit(1)
        )
        found.extend((await session.execute(query)).all())
    if not found:
        return None
    account, customer = found[0]
    return str(account), str(customer)


async def workspace_of_customer(
    session: AsyncSession, account_id: str | None, customer_id: str | None
) -> str | None:
    """The workspace another invoice or subscription of this customer belongs to."""
    if account_id is None or customer_id is None:
        return None
    for model in (Subscription, Invoice):
        query = select(model.workspace_id).where(
            model.stripe_account_id == account_id,
            model.stripe_customer_id == customer_id,
            col(model.workspace_id).is_not(None),
        )
        found = (await session.execute(query.limit(1))).scalar_one_or_none()
        if found is not None:
            return str(found)
    return None


async def products_billed(
    session: AsyncSession, subscriptions: Sequence[Subscription]
) -> dict[str, Product]:
    """The product of each price ``subscriptions`` bill now, by Stripe price id (a
    subscription moved to another product bills that product's price)."""
    prices = [sub.stripe_price_id for sub in subscriptions if sub.stripe_price_id]
    if not prices:
        return {}
    query = select(Product).where(col(Product.stripe_price_id).in_(prices))
    return {row.stripe_price_id: row for row in (await session.execute(query)).scalars()}


async def remember_refund(
    session: AsyncSession, refund_id: str, payment_intent_id: str, amount: int, *, failed: bool
) -> None:
    """Keep a refund once; its failure, once told, stays."""
    statement = insert(Refund).values(
        refund_id=refund_id, payment_intent_id=payment_intent_id, amount=amount, failed=failed
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["refund_id"],
            set_={"failed": Refund.__table__.c.failed | statement.excluded.failed},  # type: ignore[attr-defined]
        )
    )


async def refunds_of(session: AsyncSession, payment_intent_id: str) -> Sequence[Refund]:
    query = select(Refund).where(col(Refund.payment_intent_id) == payment_intent_id)
    return (await session.execute(query)).scalars().all()


class InvoicingRepository:
    """The queries above for one transaction (``session``), as the service's ports ask for
    them (``invoicing.service.ports``). Each method calls the function of its name."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flush(self) -> None:
        await self.session.flush()

    async def agency(self, agency_id: str) -> Agency | None:
        return await agency(self.session, agency_id)

    async def agency_of_account(self, account_id: str) -> str | None:
        return await agency_of_account(self.session, account_id)

    async def invoice(self, stripe_invoice_id: str, *, for_update: bool = False) -> Invoice | None:
        return await invoice(self.session, stripe_invoice_id, for_update=for_update)

    async def ensure_invoice(self, values: dict[str, Any]) -> Invoice:
        return await ensure_invoice(self.session, values)

    async def workspace_invoices(
        self, agency_id: str, workspace_id: str, *, outstanding: bool = False
    ) -> Sequence[Invoice]:
        return await workspace_invoices(
            self.session, agency_id, workspace_id, outstanding=outstanding
        )

    async def open_invoices_of_subscription(self, stripe_subscription_id: str) -> Sequence[str]:
        return await open_invoices_of_subscription(self.session, stripe_subscription_id)

    async def payments_of(self, stripe_invoice_ids: Sequence[str]) -> Sequence[Payment]:
        return await payments_of(self.session, stripe_invoice_ids)

    async def ensure_payment(self, payment_intent_id: str, account: str | None) -> Payment:
        return await ensure_payment(self.session, payment_intent_id, account)

    async def payment_by_charge(self, charge_id: str) -> Payment | None:
        return await payment_by_charge(self.session, charge_id)

    async def subscription(self, stripe_subscription_id: str) -> Subscription | None:
        return await subscription(self.session, stripe_subscription_id)

    async def ensure_subscription(self, stripe_subscription_id: str, status: str) -> Subscription:
        return await ensure_subscription(self.session, stripe_subscription_id, status)

    async def workspace_subscriptions(
        self, agency_id: str, workspace_id: str, statuses: Sequence[str]
    ) -> Sequence[Subscription]:
        return await workspace_subscriptions(self.session, agency_id, workspace_id, statuses)

    async def workspace_held_by_another_agency(self, agency_id: str, workspace_id: str) -> bool:
        return await workspace_held_by_another_agency(self.session, agency_id, workspace_id)

    async def workspace_customer(self, agency_id: str, workspace_id: str) -> tuple[str, str] | None:
        return await workspace_customer(self.session, agency_id, workspace_id)

    async def workspace_of_customer(
        self, account_id: str | None, customer_id: str | None
    ) -> str | None:
        return await workspace_of_customer(self.session, account_id, customer_id)

    async def products_billed(self, subscriptions: Sequence[Subscription]) -> dict[str, Product]:
        return await products_billed(self.session, subscriptions)

    async def remember_refund(
        self, refund_id: str, payment_intent_id: str, amount: int, *, failed: bool
    ) -> None:
        await remember_refund(self.session, refund_id, payment_intent_id, amount, failed=failed)

    async def refunds_of(self, payment_intent_id: str) -> Sequence[Refund]:
        return await refunds_of(self.session, payment_intent_id)
