"""The invoice mirror: every invoice of every agency, from Stripe's normalized events.

Each handler merges one Stripe snapshot into our rows with the ordering rules of
``invoicing.rules``, so duplicates and late events change nothing, then ``announce`` compares
the invoice with what was last announced and writes the events of the difference to the
outbox. Which invoice a payment paid comes with the payment's events (webhook-ingest read it);
what we never saw is asked of Stripe: an invoice a payment points at, the invoice of a
payment intent on an event published before events carried it, a subscription whose two
states carry the same ``created``. A Stripe error there is waited out, never dead-lettered.

No commit here: the consumer's inbox owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_invoices import StripeInvoicePaymentSnapshot, StripeInvoiceSnapshot
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_contracts.invoicing_invoices import (
    INVOICES,
    InvoiceDispute,
    InvoiceSnapshot,
)
from billing_kit.money import percent_fee_cents
from billing_kit.outbox import Publisher
from billing_kit.runtime import Runtime
from billing_kit.stripe_states import InvoiceState, apply_invoice_state
from invoicing.models import Invoice, Payment, Subscription
from invoicing.repository import InvoicingRepository
from invoicing.rules import (
    changes,
    dispute_state_key,
    is_past_due,
    refunded_total,
)
from invoicing.service.facts import PaymentFacts, invoice_payment_facts
from invoicing.service.ports import MirrorRepository, MirrorStripe
from invoicing.stripe_gateway import (
    InvoicingStripe,
    invoice_snapshot_from_stripe,
    subscription_snapshot_from_stripe,
)


def _at(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _planned_fee(metadata: dict[str, str]) -> int | None:
    value = metadata.get("application_fee_cents", "")
    return int(value) if value.isdigit() else None


def first_sight(snapshot: StripeInvoiceSnapshot) -> dict[str, Any]:
    """The row of a client invoice first seen in ``snapshot``, before anything is merged."""
    return {
        "stripe_invoice_id": snapshot.invoice_id,
        "stripe_account_id": snapshot.stripe_account_id,
        "kind": "subscription" if snapshot.subscription_id else "one_off",
        "status": "draft",
        "currency": snapshot.currency,
        "stripe_created_at": _at(snapshot.created or snapshot.stripe_created),
        "seen_at": -1,
    }


@dataclass
class Mirror:
    session: AsyncSession
    """The consumer's transaction: the outbox rows join it."""
    repository: MirrorRepository
    outbox: Publisher
    stripe: MirrorStripe

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> Mirror:
        """The mirror for one consumed event's transaction."""
        return cls(
            session, InvoicingRepository(session), runtime.outbox, InvoicingStripe(runtime.stripe)
        )

    # --- Invoices -------------------------------------------------------------------------

    async def apply_invoice(
        self,
        snapshot: StripeInvoiceSnapshot,
        *,
        agency_id: str | None,
        workspace_id: str | None,
        overdue: bool = False,
    ) -> Invoice | None:
        """Merge an invoice snapshot; only connected accounts' invoices are client invoices."""
        if snapshot.stripe_account_id is None:
            return None
        row = await self.repository.ensure_invoice(first_sight(snapshot))
        row.agency_id = (
            row.agency_id
            or agency_id
            or snapshot.metadata.get("agency_id")
            or await self.repository.agency_of_account(snapshot.stripe_account_id)
        )
        row.workspace_id = row.workspace_id or workspace_id or snapshot.metadata.get("workspace_id")
        row.stripe_customer_id = row.stripe_customer_id or snapshot.customer_id
        row.stripe_subscription_id = row.stripe_subscription_id or snapshot.subscription_id
        if row.planned_application_fee is None:
            row.planned_application_fee = _planned_fee(snapshot.metadata)
        newer = apply_invoice_state(
            row,
            InvoiceState(snapshot.status, snapshot.stripe_created, snapshot.attempt_count or 0),
        )
        row.amount_paid = max(row.amount_paid, snapshot.amount_paid)
        row.hosted_invoice_url = row.hosted_invoice_url or snapshot.hosted_invoice_url
        row.paid_at = row.paid_at or _at(snapshot.paid_at)
        row.overdue = row.overdue or overdue
        if newer:
            row.amount_due = snapshot.amount_due
            row.amount_remaining = snapshot.amount_remaining
            row.subtotal = snapshot.subtotal if snapshot.subtotal is not None else row.subtotal
            row.description = snapshot.description or row.description
            row.last_payment_error = snapshot.last_payment_error_message
        if row.workspace_id is None:
            # Made without our metadata (in Stripe's dashboard, say): the customer tells.
            row.workspace_id = await self.repository.workspace_of_customer(
                row.stripe_account_id, row.stripe_customer_id
            )
        await self.announce(row)
        return row

    async def apply_invoice_payment(
        self, payment: StripeInvoicePaymentSnapshot, *, agency_id: str | None
    ) -> None:
        """``invoice_payment.paid`` links a payment intent (and its charge) to its invoice."""
        facts = invoice_payment_facts(payment)
        if facts is not None:
            await self.apply_payment(facts, agency_id=agency_id)

    async def fill_gap(
        self, account: str, stripe_invoice_id: str, agency_id: str | None, seen_at: int
    ) -> None:
        """An event named an invoice we never saw: mirror it as Stripe has it now."""
        found = await self.stripe.invoice(account, stripe_invoice_id)
        if found is None:
            return
        snapshot = invoice_snapshot_from_stripe(found, account=account, seen_at=seen_at)
        await self.apply_invoice(snapshot, agency_id=agency_id, workspace_id=None)

    # --- Payments, refunds, disputes --------------------------------------------------------

    async def apply_payment(self, facts: PaymentFacts, *, agency_id: str | None) -> None:
        if facts.account is None:
            return
        payment = await self.repository.ensure_payment(facts.payment_intent_id, facts.account)
        payment.charge_id = payment.charge_id or facts.charge_id
        if facts.application_fee is not None:
            payment.application_fee = facts.application_fee
        if facts.amount_refunded is not None:
            payment.refunded_by_charge = max(payment.refunded_by_charge, facts.amount_refunded)
        if facts.refund_id is not None:
            await self.repository.remember_refund(
                facts.refund_id,
                facts.payment_intent_id,
                facts.refund_amount,
                failed=facts.refund_failed,
            )
        refunds = await self.repository.refunds_of(facts.payment_intent_id)
        payment.amount_refunded = refunded_total(
            payment.refunded_by_charge, [(r.amount, r.failed) for r in refunds]
        )
        if facts.dispute_status is not None and dispute_state_key(
            facts.dispute_status, facts.stripe_created
        ) > dispute_state_key(payment.dispute_status, payment.dispute_seen_at):
            payment.dispute_id = facts.dispute_id
            payment.dispute_status = facts.dispute_status
            payment.dispute_amount = facts.dispute_amount
            payment.dispute_reason = facts.dispute_reason
            payment.dispute_seen_at = facts.stripe_created
        payment.stripe_invoice_id = payment.stripe_invoice_id or facts.stripe_invoice_id
        payment.looked_up = payment.looked_up or facts.invoice_told
        if payment.stripe_invoice_id is None and not payment.looked_up:
            payment.looked_up = True
            payment.stripe_invoice_id = await self.stripe.invoice_of_payment_intent(
                facts.account, facts.payment_intent_id
            )
        await self.repository.flush()
        if payment.stripe_invoice_id is None:
            return  # not (yet) known to pay an invoice; the link comes with invoice_payment.paid
        await self.refresh(
            payment.stripe_invoice_id,
            account=facts.account,
            agency_id=agency_id,
            seen_at=facts.stripe_created,
        )

    async def refresh(
        self, stripe_invoice_id: str, *, account: str, agency_id: str | None, seen_at: int
    ) -> None:
        row = await self.repository.invoice(stripe_invoice_id, for_update=True)
        if row is None:
            await self.fill_gap(account, stripe_invoice_id, agency_id, seen_at)
            return
        await self.announce(row)

    async def payment_of_charge(self, charge_id: str) -> Payment | None:
        return await self.repository.payment_by_charge(charge_id)

    # --- Subscriptions ----------------------------------------------------------------------

    async def apply_subscription(
        self,
        snapshot: StripeSubscriptionSnapshot,
        *,
        agency_id: str | None,
        workspace_id: str | None,
    ) -> None:
        account = snapshot.stripe_account_id
        if account is None:
            return
        row = await self.repository.ensure_subscription(snapshot.subscription_id, snapshot.status)
        if snapshot.stripe_created == row.seen_at and snapshot.status != row.status:
            # Two states within one second: only Stripe knows which is current, and the
            # event carries what Stripe answered after it (older events: ask Stripe).
            told = snapshot.stripe_state
            if told is not None:
                snapshot = snapshot.model_copy(update={"status": told.status})
            elif current := await self.stripe.subscription(account, snapshot.subscription_id):
                snapshot = subscription_snapshot_from_stripe(
                    current, account=account, seen_at=snapshot.stripe_created
                )
        elif snapshot.stripe_created < row.seen_at:
            return
        before = row.status
        self._merge_subscription(row, snapshot, agency_id, workspace_id)
        await self.repository.flush()
        if before != row.status:
            for stripe_invoice_id in await self.repository.open_invoices_of_subscription(
                row.stripe_subscription_id
            ):
                await self.refresh(
                    stripe_invoice_id,
                    account=account,
                    agency_id=agency_id,
                    seen_at=snapshot.stripe_created,
                )

    @staticmethod
    def _merge_subscription(
        row: Subscription,
        snapshot: StripeSubscriptionSnapshot,
        agency_id: str | None,
        workspace_id: str | None,
    ) -> None:
        metadata = snapshot.metadata
        row.stripe_account_id = snapshot.stripe_account_id
        row.agency_id = row.agency_id or agency_id or metadata.get("agency_id")
        row.workspace_id = row.workspace_id or workspace_id or metadata.get("workspace_id")
        row.stripe_customer_id = row.stripe_customer_id or snapshot.customer_id
        row.product_id = row.product_id or metadata.get("product_id")
        row.status = snapshot.status
        row.seen_at = snapshot.stripe_created
        row.currency = snapshot.currency
        row.application_fee_percent = snapshot.application_fee_percent
        row.current_period_end = snapshot.current_period_end
        row.cancel_at_period_end = snapshot.cancel_at_period_end
        if snapshot.items:
            item = snapshot.items[0]
            row.stripe_product_id = item.product_id
            row.stripe_price_id = item.price_id
            if item.unit_amount is not None:
                row.amount_cents = item.unit_amount * (item.quantity or 1)

    # --- Announcing -------------------------------------------------------------------------

    async def snapshot(self, row: Invoice) -> InvoiceSnapshot:
        payments = await self.repository.payments_of([row.stripe_invoice_id])
        subscription = (
            await self.repository.subscription(row.stripe_subscription_id)
            if row.stripe_subscription_id
            else None
        )
        return invoice_snapshot(row, payments, subscription)

    async def announce(self, row: Invoice) -> None:
        """Publish what changed since the last announcement (nothing when nothing did).
        A draft is not announced: it may still be deleted, and nobody owes it yet."""
        if row.status == "draft":
            await self.repository.flush()
            return
        current = await self.snapshot(row)
        events = changes(row.announced, current)
        if not events:
            return
        row.revision += 1
        current = current.model_copy(update={"revision": row.revision})
        row.announced = current.model_dump(mode="json", exclude={"revision"})
        await self.repository.flush()
        await self.outbox.add(
            self.session,
            INVOICES,
            *(
                event_type.model_validate(
                    {
                        "agency_id": row.agency_id,
                        "workspace_id": row.workspace_id,
                        "payload": current,
                    }
                )
                for event_type in events
            ),
        )


def invoice_snapshot(
    row: Invoice, payments: Sequence[Payment], subscription: Subscription | None
) -> InvoiceSnapshot:
    """The invoice as our API and events show it, from its row, payments and subscription."""
    paid_by = next((p for p in payments if p.charge_id), payments[0] if payments else None)
    disputed = next((p for p in payments if p.dispute_status), None)
    fee: int | None = paid_by.application_fee if paid_by else None
    if fee is None:
        fee = row.planned_application_fee
    if fee is None and subscription and subscription.application_fee_percent is not None:
        fee = percent_fee_cents(row.subtotal, Decimal(str(subscription.application_fee_percent)))
    return InvoiceSnapshot(
        invoice_id=row.id,
        stripe_invoice_id=row.stripe_invoice_id,
        stripe_account_id=row.stripe_account_id,
        workspace_id=row.workspace_id,
        kind="subscription" if row.kind == "subscription" else "one_off",
        description=row.description,
        status=row.status,
        currency=row.currency,
        amount_due_cents=row.amount_due,
        amount_paid_cents=row.amount_paid,
        amount_refunded_cents=sum(p.amount_refunded for p in payments),
        application_fee_cents=fee,
        stripe_customer_id=row.stripe_customer_id,
        stripe_subscription_id=row.stripe_subscription_id,
        stripe_payment_intent_id=paid_by.payment_intent_id if paid_by else None,
        stripe_charge_id=paid_by.charge_id if paid_by else None,
        hosted_invoice_url=row.hosted_invoice_url,
        past_due=is_past_due(
            status=row.status,
            attempt_count=row.attempt_count,
            overdue=row.overdue,
            subscription_status=subscription.status if subscription else None,
        ),
        attempt_count=row.attempt_count,
        dispute=InvoiceDispute(
            dispute_id=disputed.dispute_id or "",
            status=disputed.dispute_status or "",
            amount_cents=disputed.dispute_amount or 0,
            reason=disputed.dispute_reason,
        )
        if disputed
        else None,
        created_at=row.stripe_created_at,
        paid_at=row.paid_at,
        revision=row.revision,
    )
