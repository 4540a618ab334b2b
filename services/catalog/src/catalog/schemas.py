"""Request and response models of the catalog API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
    StringConstraints,
    field_validator,
)

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


PRICE_FIELDS = frozenset({"amount_cents", "cadence", "currency"})
RefusedPriceField = Annotated[
    JsonValue,
    Field(description="Prices are immutable: any value is refused with 409 price_immutable."),
]


class ProductPatch(BaseModel):
    """Name and description may change; the price fields are listed only to refuse them."""

    model_config = ConfigDict(extra="forbid")

    name: ProductName | None = None
    description: Description | None = None
    amount_cents: RefusedPriceField = None
    cadence: RefusedPriceField = None
    currency: RefusedPriceField = None

    def asks_for_a_new_price(self) -> bool:
        """Whether the request names a price field at all, whatever its value."""
        return bool(self.model_fields_set & PRICE_FIELDS)


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


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or value != value.strip():
        raise ValueError("must be an absolute http(s) URL")
    return value


HttpUrlText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2000),
    AfterValidator(_http_url),
    Field(description="An absolute http(s) URL.", json_schema_extra={"format": "uri"}),
]
"""An http(s) URL, kept exactly as given (Stripe sends the owner back to it)."""


class OnboardingRequest(BaseModel):
    return_url: HttpUrlText
    refresh_url: HttpUrlText


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
