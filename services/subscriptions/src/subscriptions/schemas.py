"""Request and response models of the subscriptions API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]
DaysUntilDue = Annotated[int, Field(ge=1, le=90)]
"""Payment terms: days the client has to pay an invoice (1 to 90)."""
UserId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class BillingContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    name: Name | None = None


class ClientMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    email: Email
    name: Name | None = None


class WorkspacePut(BaseModel):
    """The whole workspace as it should be; members keep the order in which they joined."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    billing_contact: BillingContactIn | None = None
    client_members: list[ClientMemberIn] = Field(default_factory=list, max_length=500)
    default_days_until_due: DaysUntilDue | None = None
    """Payment terms of the workspace's new subscriptions; none: 30 days."""

    @field_validator("client_members")
    @classmethod
    def _one_entry_per_member(cls, members: list[ClientMemberIn]) -> list[ClientMemberIn]:
        if len({member.user_id for member in members}) != len(members):
            raise ValueError("each user_id may appear only once")
        return members


class BillingContactOut(BaseModel):
    email: str
    name: str | None


class ClientMemberOut(BaseModel):
    user_id: str
    email: str
    name: str | None
    joined_at: datetime


class WorkspaceOut(BaseModel):
    id: str
    name: str
    billing_contact: BillingContactOut | None
    client_members: list[ClientMemberOut]
    billing_email: str | None
    """Who Stripe bills: the billing contact, else the first client member to have joined."""
    default_days_until_due: int | None
    stripe_customer_id: str | None


ProductId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
MigrationTiming = Literal["next_renewal", "now"]
"""``next_renewal``: the new price from the next period, no proration; ``now``: at once,
with Stripe's proration on the next invoice."""


class SubscriptionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    days_until_due: DaysUntilDue | None = None
    """Days the client has to pay each invoice; default the workspace's, else 30."""


class SubscriptionMigrate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    when: MigrationTiming = "next_renewal"


class ProductMigrate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_product_id: ProductId
    when: MigrationTiming = "next_renewal"


class MigrationAccepted(BaseModel):
    subscriptions: int
    """How many live subscriptions of the product are moving."""


class LatestInvoice(BaseModel):
    id: str | None
    status: str | None
    hosted_invoice_url: str | None


class SubscriptionOut(BaseModel):
    id: str
    workspace_id: str
    product_id: str
    product_name: str | None
    scheduled_product_id: str | None
    """The product it moves to at its next renewal (a migration waiting), else null."""
    status: str
    cadence: str
    amount_cents: int
    currency: str
    application_fee_percent: float
    days_until_due: int | None
    """Payment terms while the client pays by invoice; null once renewals are charged to
    the saved payment method."""
    collection_method: str
    """``send_invoice`` until the client pays with a payment method that can be saved, then
    ``charge_automatically``."""
    billing_email: str | None
    stripe_customer_id: str
    stripe_subscription_id: str
    current_period_end: int | None
    """When the period being billed ends, the next renewal (Unix seconds)."""
    latest_invoice: LatestInvoice
    created_at: datetime
    canceled_at: datetime | None


class SubscriptionList(BaseModel):
    data: list[SubscriptionOut]
