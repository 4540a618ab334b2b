"""Request and response models of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from billing_contracts.catalog_agencies import ConnectStatus

Cadence = Literal["one_time", "monthly", "yearly"]
ProductName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=99)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=499)]
STRIPE_MAX_AMOUNT = 99_999_999
"""Stripe's largest amount for a USD price or charge ($999,999.99)."""
AmountCents = Annotated[
    StrictInt,
    Field(ge=50, le=STRIPE_MAX_AMOUNT, description="Integer cents, from 50 to 99,999,999."),
]
Currency = Literal["usd"]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{3}$")]


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ProductName
    description: Description | None = None
    cadence: Cadence
    amount_cents: AmountCents
    currency: Currency = "usd"

    _currency_lower = field_validator("currency", mode="before")(_lower)


class ProductPatch(BaseModel):
    """Name and description may change; the price fields are listed only to refuse them."""

    model_config = ConfigDict(extra="forbid")

    name: ProductName | None = None
    description: Description | None = None
    cadence: Cadence | None = None
    amount_cents: AmountCents | None = None
    currency: CurrencyCode | None = None

    _currency_lower = field_validator("currency", mode="before")(_lower)


class ProductOut(BaseModel):
    id: str
    name: str
    description: str | None
    cadence: Cadence
    amount_cents: int
    currency: str
    status: Literal["active", "archived"]
    stripe_product_id: str
    stripe_price_id: str
    created_at: datetime


class ProductList(BaseModel):
    data: list[ProductOut]


class ConnectOut(BaseModel):
    account_id: str | None
    charges_enabled: bool
    details_submitted: bool
    status: ConnectStatus


class OnboardingRequest(BaseModel):
    return_url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    refresh_url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class OnboardingLink(BaseModel):
    account_id: str
    url: str
    expires_at: int


class SuspensionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suspended: bool
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class SuspensionOut(BaseModel):
    agency_id: str
    suspended: bool
    reason: str | None
