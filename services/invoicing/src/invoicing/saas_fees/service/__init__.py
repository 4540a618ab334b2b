"""The platform's SaaS-fee collections: every platform invoice charged to an agency's Stripe
balance, with why its last payment failed and when Stripe retries it on its own (at least
24 h later, then the following Sunday), and the manual retries the platform starts.

Each invoice event is merged with the invoice mirror's ordering rules, so duplicates and late
events change nothing; a change is announced on ``invoicing.collections.v1`` beside it.
Starting a retry locks the collection first, so asking twice at once gives the same retry.
The retry's steps themselves run in ``invoicing.saas_fees.service.retries``, outside any consumer.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import invoicing_collections as contract
from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.subscriptions_agency_plans import AgencyPlanSnapshot
from billing_kit.errors import NotFoundError
from billing_kit.outbox import Outbox
from billing_kit.runtime import Runtime
from billing_kit.stripe_states import InvoiceState, apply_invoice_state
from invoicing.repository import invoice_id_for
from invoicing.saas_fees import repository
from invoicing.saas_fees.errors import CollectionNotOpenError
from invoicing.saas_fees.models import AgencyPlan, Collection, CollectionRetry, CollectionRetryStep
from invoicing.saas_fees.stripe_gateway import CollectionsStripe

FINISHED = frozenset({"succeeded", "failed"})


def _at(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def collection_snapshot(row: Collection) -> contract.CollectionSnapshot:
    return contract.CollectionSnapshot(
        invoice_id=row.id,
        agency_id=row.agency_id,
        stripe_invoice_id=row.stripe_invoice_id,
        amount_due_cents=row.amount_due,
        currency=row.currency,
        status=row.status,
        failure_code=row.failure_code,
        attempt_count=row.attempt_count,
        next_automatic_retry_at=row.next_automatic_retry_at,
        paid_at=row.paid_at,
    )


async def record_step(
    session: AsyncSession,
    outbox: Outbox,
    retry: CollectionRetry,
    step: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """A step done: its row and its event, in the transaction that changed the retry."""
    now = datetime.now(UTC)
    retry.updated_at = now
    session.add(
        CollectionRetryStep(retry_id=retry.id, step=step, state=retry.state, detail=detail, at=now)
    )
    await session.flush()
    await outbox.add(
        session,
        contract.COLLECTIONS,
        contract.CollectionRetryStepped(
            agency_id=retry.agency_id,
            payload=contract.CollectionRetrySnapshot(
                retry_id=retry.id,
                invoice_id=retry.invoice_id,
                agency_id=retry.agency_id,
                stripe_invoice_id=retry.stripe_invoice_id,
                state=retry.state,
                step=step,
                available_cents=retry.available_cents,
                previous_payout_schedule=retry.previous_schedule,
                at=now,
            ),
        ),
    )


@dataclass
class Collections:
    session: AsyncSession
    outbox: Outbox
    stripe: CollectionsStripe

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> Collections:
        """The service for one transaction of the edge (a request or a consumed event)."""
        return cls(session, runtime.outbox, CollectionsStripe(runtime.stripe))

    async def apply_invoice(self, snapshot: StripeInvoiceSnapshot, *, failed: bool) -> None:
        """Merge a platform invoice charged to a connected account (``customer_account``)."""
        assert snapshot.customer_account is not None
        row = await repository.ensure_collection(
            self.session,
            {
                "id": invoice_id_for(snapshot.invoice_id),
                "stripe_invoice_id": snapshot.invoice_id,
                "stripe_account_id": snapshot.customer_account,
                "status": "draft",
                "currency": snapshot.currency,
                "stripe_created_at": _at(snapshot.created or snapshot.stripe_created),
                "seen_at": -1,
            },
        )
        before = collection_snapshot(row)
        row.agency_id = (
            row.agency_id
            or snapshot.metadata.get("agency_id")
            or await repository.agency_of_paying_account(self.session, row.stripe_account_id)
        )
        row.stripe_subscription_id = row.stripe_subscription_id or snapshot.subscription_id
        attempts, attempts_known = snapshot.attempt_count or 0, row.attempt_count
        if apply_invoice_state(
            row, InvoiceState(snapshot.status, snapshot.stripe_created, attempts)
        ):
            row.amount_due = snapshot.amount_due
            row.paid_at = _at(snapshot.paid_at) if snapshot.paid_at else row.paid_at
            row.next_automatic_retry_at = (
                _at(snapshot.next_payment_attempt) if row.status == "open" else None
            )
        if failed and attempts >= attempts_known and row.status == "open":
            told = snapshot.payment_failure  # carried since webhook-ingest reads it
            row.failure_code = (
                told.code
                if told is not None
                else await self.stripe.failure_code(row.stripe_invoice_id)
            )
        await self.session.flush()
        current = collection_snapshot(row)
        if current.status != before.status and row.status != "open":
            await repository.wake_retry_of(self.session, row.id, datetime.now(UTC))
        if current != before and row.status != "draft":
            await self.outbox.add(
                self.session,
                contract.COLLECTIONS,
                contract.CollectionUpdated(agency_id=row.agency_id, payload=current),
            )

    async def apply_agency_plan(self, plan: AgencyPlanSnapshot, occurred_at: datetime) -> None:
        """Keep the newest plan of each agency."""
        row = await repository.ensure_agency_plan(self.session, plan, occurred_at)
        if occurred_at < row.event_at:
            return
        row.agency_plan_id = plan.agency_plan_id
        row.plan_id = plan.plan_id
        row.plan_name = plan.plan_name
        row.amount_cents = plan.amount_cents
        row.currency = plan.currency
        row.interval = plan.interval
        row.status = plan.status
        row.stripe_account_id = plan.stripe_account_id
        row.stripe_subscription_id = plan.stripe_subscription_id
        row.stripe_payment_method_id = plan.stripe_payment_method_id
        row.billing_cycle_anchor = plan.billing_cycle_anchor
        row.event_at = occurred_at
        await self.session.flush()

    async def signal_funds(self, account_id: str) -> None:
        """The account's balance moved: its waiting retries check it again."""
        await repository.signal_funds(self.session, account_id, datetime.now(UTC))

    async def list_collections(
        self, *, failing_only: bool
    ) -> Sequence[tuple[Collection, CollectionRetry | None]]:
        return await repository.collections_with_retries(self.session, failing_only=failing_only)

    async def agency_collections(self, agency_id: str) -> Sequence[Collection]:
        return await repository.agency_collections(self.session, agency_id)

    async def agency_plan(self, agency_id: str) -> AgencyPlan | None:
        return await self.session.get(AgencyPlan, agency_id)

    async def start_retry(self, invoice_id: str) -> CollectionRetry:
        """Start the manual retry saga, or answer the one already running."""
        row = await repository.collection(self.session, invoice_id, for_update=True)
        if row is None:
            raise NotFoundError("No such collection.")
        running = await repository.running_retry(self.session, invoice_id)
        if running is not None:
            return running
        if row.status != "open":
            raise CollectionNotOpenError()
        plan = await repository.plan_of_subscription(self.session, row.stripe_subscription_id)
        now = datetime.now(UTC)
        retry = CollectionRetry(
            id=str(uuid.uuid4()),
            invoice_id=row.id,
            agency_id=row.agency_id,
            stripe_account_id=row.stripe_account_id,
            stripe_invoice_id=row.stripe_invoice_id,
            stripe_payment_method_id=plan.stripe_payment_method_id if plan else None,
            currency=row.currency,
            amount_due=row.amount_due,
            state="payouts_paused",
            started_at=now,
            updated_at=now,
        )
        self.session.add(retry)
        await self.session.flush()
        await record_step(self.session, self.outbox, retry, "started")
        return retry
