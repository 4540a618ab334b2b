"""Routes of the platform's SaaS-fee collections: the operator's failing collections and
manual retries, and what an agency owner sees of what the platform charges it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import stripe
import structlog
from fastapi import APIRouter, Depends, Path, Query, Request

from billing_kit.auth import Operator, Owner
from billing_kit.db import DbSession
from billing_kit.errors import ForbiddenError, NotFoundError, documented
from billing_kit.idempotency import IdempotentRoute
from invoicing.saas_fees import repository
from invoicing.saas_fees.errors import CollectionNotOpenError
from invoicing.saas_fees.models import AgencyPlan, Collection, CollectionRetry
from invoicing.saas_fees.rules import payout_advice
from invoicing.saas_fees.schemas import (
    AdviceOut,
    AgencyCollectionOut,
    AgencyPlanOut,
    CollectionList,
    CollectionOut,
    PlatformBilling,
    RetryOut,
)
from invoicing.saas_fees.service import Collections

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", route_class=IdempotentRoute, tags=["saas fees"])


def _collections(request: Request, session: DbSession) -> Collections:
    return Collections.build(request.app.state.runtime, session)


CollectionsService = Annotated[Collections, Depends(_collections)]


def retry_out(retry: CollectionRetry) -> RetryOut:
    return RetryOut(
        id=retry.id,
        invoice_id=retry.invoice_id,
        state=retry.state,
        started_at=retry.started_at,
        updated_at=retry.updated_at,
        available_cents=retry.available_cents,
        outcome=retry.outcome,
        failure_reason=retry.failure_reason,
        previous_payout_schedule=retry.previous_schedule,
    )


def _agency_collection_out(row: Collection) -> AgencyCollectionOut:
    return AgencyCollectionOut(
        invoice_id=row.id,
        agency_id=row.agency_id,
        stripe_invoice_id=row.stripe_invoice_id,
        amount_due_cents=row.amount_due,
        currency=row.currency,
        status=row.status,
        failure_code=row.failure_code,
        attempt_count=row.attempt_count,
        next_automatic_retry_at=row.next_automatic_retry_at,
    )


def _plan_out(plan: AgencyPlan) -> AgencyPlanOut:
    return AgencyPlanOut(
        id=plan.agency_plan_id,
        plan_id=plan.plan_id,
        name=plan.plan_name,
        amount_cents=plan.amount_cents,
        currency=plan.currency,
        interval=plan.interval,
        status=plan.status,
        stripe_subscription_id=plan.stripe_subscription_id,
        billing_cycle_anchor=datetime.fromtimestamp(plan.billing_cycle_anchor, UTC),
    )


@router.get(
    "/platform/collections", response_model=CollectionList, responses=documented(ForbiddenError)
)
async def list_collections(
    _: Operator,
    collections: CollectionsService,
    status: Annotated[Literal["failing", "all"], Query()] = "failing",
) -> CollectionList:
    found = await collections.list_collections(failing_only=status == "failing")
    return CollectionList(
        data=[
            CollectionOut(
                **_agency_collection_out(row).model_dump(),
                retry=retry_out(retry) if retry else None,
            )
            for row, retry in found
        ]
    )


@router.post(
    "/platform/collections/{invoice_id}/retry",
    status_code=202,
    response_model=RetryOut,
    responses=documented(ForbiddenError, NotFoundError, CollectionNotOpenError),
)
async def retry_collection(
    invoice_id: Annotated[str, Path(min_length=1, max_length=40)],
    _: Operator,
    collections: CollectionsService,
) -> RetryOut:
    return retry_out(await collections.start_retry(invoice_id))


@router.get(
    "/agency/platform-billing", response_model=PlatformBilling, responses=documented(ForbiddenError)
)
async def platform_billing(principal: Owner, collections: CollectionsService) -> PlatformBilling:
    agency_id = principal.require_agency()
    plan = await collections.agency_plan(agency_id)
    invoices = await collections.agency_collections(agency_id)
    advice: list[AdviceOut] = []
    if plan is not None:
        advice = await _advice(collections, plan)
    return PlatformBilling(
        plan=_plan_out(plan) if plan else None,
        invoices=[_agency_collection_out(row) for row in invoices],
        payout_advice=advice,
    )


async def _advice(collections: Collections, plan: AgencyPlan) -> list[AdviceOut]:
    """The advice for the agency's payout schedule as Stripe has it now (none when Stripe
    cannot tell: the page still shows the plan and its invoices)."""
    account = await repository.agency_account(collections.session, plan.agency_id)
    if account is None:
        return []
    # While a retry holds payouts on manual, the schedule it will put back is the agency's.
    schedule = await repository.paused_schedule(collections.session, account)
    if schedule is None:
        try:
            schedule = await collections.stripe.payout_schedule(account)
        except stripe.StripeError as exc:
            log.warning("payout schedule unavailable", account=account, error=repr(exc))
            return []
    return [
        AdviceOut(code=a.code, message=a.message)
        for a in payout_advice(
            schedule,
            billing_anchor=plan.billing_cycle_anchor,
            interval=plan.interval,
            amount_cents=plan.amount_cents,
            currency=plan.currency,
        )
    ]
