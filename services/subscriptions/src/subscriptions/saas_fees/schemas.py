"""Request and response models of the SaaS fees' plans API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=99)]
    amount_cents: int = Field(ge=50, le=99_999_999)
    interval: Literal["month", "year"]


class PlanOut(BaseModel):
    id: str
    name: str
    amount_cents: int
    currency: str
    interval: str
    status: str
    stripe_product_id: str
    stripe_price_id: str


class PlanList(BaseModel):
    data: list[PlanOut]


class AgencyPlanStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class PlanInvoice(BaseModel):
    id: str | None
    status: str | None
    amount_due_cents: int | None


class AgencyPlanOut(BaseModel):
    id: str
    agency_id: str
    plan_id: str
    status: str
    stripe_account_id: str
    stripe_subscription_id: str
    latest_invoice: PlanInvoice
