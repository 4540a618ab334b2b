"""The platform operator's routes of the SaaS fees: plans and agencies' plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from billing_kit.auth import Operator
from billing_kit.db import DbSession
from billing_kit.errors import (
    ConnectRequiredError,
    ForbiddenError,
    NotFoundError,
    StripeFailedError,
    documented,
)
from billing_kit.idempotency import IdempotentRoute
from subscriptions.saas_fees.errors import AgencyPlanExistsError, PlanArchivedError
from subscriptions.saas_fees.models import AgencyPlan, PlatformPlan
from subscriptions.saas_fees.schemas import (
    AgencyPlanOut,
    AgencyPlanStart,
    PlanCreate,
    PlanInvoice,
    PlanList,
    PlanOut,
)
from subscriptions.saas_fees.service import PlatformPlans

router = APIRouter(prefix="/v1/platform", route_class=IdempotentRoute, tags=["saas fees"])

AgencyId = Annotated[str, Path(min_length=1, max_length=100)]


def _platform_plans(request: Request, session: DbSession) -> PlatformPlans:
    return PlatformPlans.build(request.app.state.runtime, session)


Plans = Annotated[PlatformPlans, Depends(_platform_plans)]


def _plan_out(plan: PlatformPlan) -> PlanOut:
    return PlanOut.model_validate(plan.model_dump())


def _agency_plan_out(agency_plan: AgencyPlan) -> AgencyPlanOut:
    return AgencyPlanOut(
        id=agency_plan.id,
        agency_id=agency_plan.agency_id,
        plan_id=agency_plan.plan_id,
        status=agency_plan.status,
        stripe_account_id=agency_plan.stripe_account_id,
        stripe_subscription_id=agency_plan.stripe_subscription_id,
        latest_invoice=PlanInvoice(
            id=agency_plan.latest_invoice_id,
            status=agency_plan.latest_invoice_status,
            amount_due_cents=agency_plan.latest_invoice_amount_due,
        ),
    )


@router.post(
    "/plans",
    status_code=201,
    response_model=PlanOut,
    responses=documented(ForbiddenError, StripeFailedError),
)
async def create_plan(body: PlanCreate, _: Operator, plans: Plans) -> PlanOut:
    return _plan_out(await plans.create_plan(body.name, body.amount_cents, body.interval))


@router.get("/plans", response_model=PlanList, responses=documented(ForbiddenError))
async def list_plans(_: Operator, plans: Plans) -> PlanList:
    return PlanList(data=[_plan_out(plan) for plan in await plans.list_plans()])


@router.post(
    "/agencies/{agency_id}/plan",
    status_code=201,
    response_model=AgencyPlanOut,
    responses=documented(
        ForbiddenError,
        NotFoundError,
        ConnectRequiredError,
        PlanArchivedError,
        AgencyPlanExistsError,
        StripeFailedError,
    ),
)
async def start_agency_plan(
    agency_id: AgencyId, body: AgencyPlanStart, _: Operator, plans: Plans
) -> AgencyPlanOut:
    return _agency_plan_out(await plans.start_agency_plan(agency_id, body.plan_id))


@router.get(
    "/agencies/{agency_id}/plan",
    response_model=AgencyPlanOut,
    responses=documented(ForbiddenError, NotFoundError),
)
async def get_agency_plan(agency_id: AgencyId, _: Operator, plans: Plans) -> AgencyPlanOut:
    return _agency_plan_out(await plans.agency_plan(agency_id))
