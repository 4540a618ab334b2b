"""Every query of the SaaS-fee collections and their retries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from billing_contracts.subscriptions_agency_plans import AgencyPlanSnapshot
from invoicing.models import Agency
from invoicing.repository import agency_of_account
from invoicing.saas_fees.models import AgencyPlan, Collection, CollectionRetry, CollectionRetryStep

FINISHED_STATES = ("succeeded", "failed")


async def ensure_collection(session: AsyncSession, values: dict[str, Any]) -> Collection:
    """The collection row, inserted with ``values`` on first sight; locked for this transaction."""
    await session.execute(insert(Collection).values(**values).on_conflict_do_nothing())
    query = (
        select(Collection)
        .where(col(Collection.stripe_invoice_id) == values["stripe_invoice_id"])
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def collection(
    session: AsyncSession, invoice_id: str, *, for_update: bool = False
) -> Collection | None:
    query = select(Collection).where(col(Collection.id) == invoice_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def agency_of_paying_account(session: AsyncSession, account_id: str) -> str | None:
    query = select(AgencyPlan.agency_id).where(col(AgencyPlan.stripe_account_id) == account_id)
    found = (await session.execute(query.limit(1))).scalar_one_or_none()
    return found or await agency_of_account(session, account_id)


async def ensure_agency_plan(
    session: AsyncSession, plan: AgencyPlanSnapshot, occurred_at: datetime
) -> AgencyPlan:
    """The agency's plan row (made from ``plan`` when first seen), locked."""
    values = {
        "agency_id": plan.agency_id,
        "agency_plan_id": plan.agency_plan_id,
        "plan_id": plan.plan_id,
        "plan_name": plan.plan_name,
        "amount_cents": plan.amount_cents,
        "currency": plan.currency,
        "interval": plan.interval,
        "status": plan.status,
        "stripe_account_id": plan.stripe_account_id,
        "stripe_subscription_id": plan.stripe_subscription_id,
        "stripe_payment_method_id": plan.stripe_payment_method_id,
        "billing_cycle_anchor": plan.billing_cycle_anchor,
        "event_at": occurred_at - timedelta(microseconds=1),
    }
    await session.execute(insert(AgencyPlan).values(**values).on_conflict_do_nothing())
    query = (
        select(AgencyPlan)
        .where(col(AgencyPlan.agency_id) == plan.agency_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def plan_of_subscription(
    session: AsyncSession, stripe_subscription_id: str | None
) -> AgencyPlan | None:
    if stripe_subscription_id is None:
        return None
    query = select(AgencyPlan).where(
        col(AgencyPlan.stripe_subscription_id) == stripe_subscription_id
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def agency_account(session: AsyncSession, agency_id: str) -> str | None:
    """The agency's connected account: from its plan, else from catalog's profile."""
    plan = await session.get(AgencyPlan, agency_id)
    if plan is not None:
        return plan.stripe_account_id
    agency = await session.get(Agency, agency_id)
    return agency.stripe_account_id if agency else None


async def running_retry(session: AsyncSession, invoice_id: str) -> CollectionRetry | None:
    query = select(CollectionRetry).where(
        col(CollectionRetry.invoice_id) == invoice_id,
        col(CollectionRetry.state).not_in(FINISHED_STATES),
    )
    return (await session.execute(query)).scalar_one_or_none()


async def paused_schedule(session: AsyncSession, account_id: str) -> dict[str, Any] | None:
    """The schedule a running retry paused (and will put back), if one did."""
    query = select(CollectionRetry.previous_schedule).where(
        col(CollectionRetry.stripe_account_id) == account_id,
        col(CollectionRetry.state).not_in(FINISHED_STATES),
        col(CollectionRetry.previous_schedule).is_not(None),
    )
    found: dict[str, Any] | None = (await session.execute(query.limit(1))).scalar_one_or_none()
    return found


_FAILING = (col(Collection.status) == "open", col(Collection.attempt_count) > 0)
"""A failing collection: still open after a failed attempt."""


async def failing_totals(session: AsyncSession) -> dict[str, tuple[int, int]]:
    """Per currency: how many collections are failing, and what they amount to."""
    query = (
        select(col(Collection.currency), func.count(), func.sum(col(Collection.amount_due)))
        .where(*_FAILING)
        .group_by(col(Collection.currency))
    )
    rows = (await session.execute(query)).all()
    return {currency: (int(count), int(cents or 0)) for currency, count, cents in rows}


async def collections_with_retries(
    session: AsyncSession, *, failing_only: bool
) -> Sequence[tuple[Collection, CollectionRetry | None]]:
    """Collections, newest first, each with its running retry or else its latest one."""
    query = select(Collection).order_by(
        col(Collection.stripe_created_at).desc(), col(Collection.id)
    )
    if failing_only:
        query = query.where(*_FAILING)
    rows = (await session.execute(query.limit(500))).scalars().all()
    retries = await latest_retries(session, [row.id for row in rows])
    return [(row, retries.get(row.id)) for row in rows]


async def latest_retries(
    session: AsyncSession, invoice_ids: Sequence[str]
) -> dict[str, CollectionRetry]:
    if not invoice_ids:
        return {}
    query = (
        select(CollectionRetry)
        .where(col(CollectionRetry.invoice_id).in_(invoice_ids))
        .order_by(col(CollectionRetry.invoice_id), col(CollectionRetry.started_at).desc())
        .distinct(col(CollectionRetry.invoice_id))
    )
    return {retry.invoice_id: retry for retry in (await session.execute(query)).scalars()}


async def agency_collections(session: AsyncSession, agency_id: str) -> Sequence[Collection]:
    query = (
        select(Collection)
        .where(col(Collection.agency_id) == agency_id, col(Collection.status) != "draft")
        .order_by(col(Collection.stripe_created_at).desc(), col(Collection.id))
    )
    return (await session.execute(query.limit(200))).scalars().all()


async def signal_funds(session: AsyncSession, account_id: str, at: datetime) -> None:
    await session.execute(
        update(CollectionRetry)
        .where(
            col(CollectionRetry.stripe_account_id) == account_id,
            col(CollectionRetry.state) == "waiting_for_funds",
        )
        .values(funds_signal_at=at)
    )


async def wake_retry_of(session: AsyncSession, invoice_id: str, at: datetime) -> None:
    """The invoice changed (paid, voided): its waiting retry looks again now."""
    await session.execute(
        update(CollectionRetry)
        .where(
            col(CollectionRetry.invoice_id) == invoice_id,
            col(CollectionRetry.state) == "waiting_for_funds",
        )
        .values(funds_signal_at=at)
    )


async def postpone(session: AsyncSession, retry_id: str, at: datetime) -> None:
    await session.execute(
        update(CollectionRetry).where(col(CollectionRetry.id) == retry_id).values(updated_at=at)
    )


async def next_due_retry(
    session: AsyncSession, *, recheck_before: datetime
) -> CollectionRetry | None:
    """One unfinished retry with work to do, locked (others' locked ones are skipped): any
    not waiting for funds; a waiting one once the balance moved or its check grew old.

    Only the first unfinished retry of a connected account is ever worked: the others wait
    their turn, so payouts are paused and restored by one saga at a time."""
    waiting = col(CollectionRetry.state) == "waiting_for_funds"
    query = (
        select(CollectionRetry)
        .where(
            col(CollectionRetry.state).not_in(FINISHED_STATES),
            ~exists().where(_earlier_running_retry_of_same_account()),
            or_(
                ~waiting,
                col(CollectionRetry.checked_at).is_(None),
                col(CollectionRetry.checked_at) < recheck_before,
                col(CollectionRetry.funds_signal_at) > col(CollectionRetry.checked_at),
            ),
        )
        .order_by(col(CollectionRetry.updated_at))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


def _earlier_running_retry_of_same_account() -> Any:
    ahead = aliased(CollectionRetry)
    return and_(
        col(ahead.stripe_account_id) == col(CollectionRetry.stripe_account_id),
        col(ahead.state).not_in(FINISHED_STATES),
        tuple_(col(ahead.started_at), col(ahead.id))
        < tuple_(col(CollectionRetry.started_at), col(CollectionRetry.id)),
    )


async def next_retry_of_account(
    session: AsyncSession, retry: CollectionRetry
) -> CollectionRetry | None:
    """The unfinished retry of the same account whose turn comes after ``retry``'s, locked."""
    query = (
        select(CollectionRetry)
        .where(
            col(CollectionRetry.stripe_account_id) == retry.stripe_account_id,
            col(CollectionRetry.state).not_in(FINISHED_STATES),
            col(CollectionRetry.id) != retry.id,
        )
        .order_by(col(CollectionRetry.started_at), col(CollectionRetry.id))
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def retry_steps(session: AsyncSession, retry_id: str) -> Sequence[CollectionRetryStep]:
    query = (
        select(CollectionRetryStep)
        .where(col(CollectionRetryStep.retry_id) == retry_id)
        .order_by(col(CollectionRetryStep.id))
    )
    return (await session.execute(query)).scalars().all()
