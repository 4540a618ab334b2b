"""Request and response models of the invoicing API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from billing_contracts.invoicing_invoices import InvoiceKind, InvoiceStatus

STRIPE_MAX_AMOUNT = 99_999_999
"""Stripe's largest amount for a USD charge ($999,999.99)."""


class OneOffInvoiceCreate(BaseModel):
    """ "Charge for project": a description and an amount in cents."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]
    amount_cents: Annotated[
        StrictInt,
        Field(ge=50, le=STRIPE_MAX_AMOUNT, description="Integer cents, from 50 to 99,999,999."),
    ]


class DisputeOut(BaseModel):
    status: str
    amount_cents: int
    reason: str | None


class InvoiceOut(BaseModel):
    id: str
    workspace_id: str | None
    stripe_invoice_id: str
    kind: InvoiceKind
    description: str | None
    status: InvoiceStatus
    amount_due_cents: int
    amount_paid_cents: int
    amount_refunded_cents: int
    application_fee_cents: int | None
    currency: str
    hosted_invoice_url: str | None
    pay_url: str | None
    """The hosted invoice page while the invoice is unpaid (Pay now), else null."""
    past_due: bool
    dispute: DisputeOut | None
    created_at: datetime
    paid_at: datetime | None


class InvoiceList(BaseModel):
    data: list[InvoiceOut]


class SubscriptionOut(BaseModel):
    id: str
    """The Stripe subscription id."""
    workspace_id: str | None
    product_id: str | None
    product_name: str | None
    cadence: str | None
    """``monthly`` or ``yearly``."""
    stripe_product_id: str | None
    status: str
    amount_cents: int | None
    currency: str | None
    current_period_end: int | None
    cancel_at_period_end: bool


class PortalBilling(BaseModel):
    subscriptions: list[SubscriptionOut]
    outstanding_invoices: list[InvoiceOut]


class PaymentMethodsSessionCreate(BaseModel):
    return_url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class PaymentMethodsSession(BaseModel):
    url: str
