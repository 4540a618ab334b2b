"""invoicing routes: parse, authorize, call the rules, shape the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from billing_contracts.invoicing_invoices import InvoiceSnapshot
from billing_kit.auth import AgencyStaff, Client, Principal
from billing_kit.db import DbSession
from billing_kit.errors import (
    AgencySuspendedCannotBillError,
    ConnectRequiredError,
    ForbiddenError,
    NotFoundError,
    StripeFailedError,
    UnavailableError,
    documented,
)
from billing_kit.idempotency import IdempotentRoute
from invoicing.models import Product, Subscription
from invoicing.schemas import (
    DisputeOut,
    InvoiceList,
    InvoiceOut,
    OneOffInvoiceCreate,
    PaymentMethodsSession,
    PaymentMethodsSessionCreate,
    PortalBilling,
    SubscriptionOut,
)
from invoicing.service import Invoicing

router = APIRouter(prefix="/v1", route_class=IdempotentRoute, tags=["invoicing"])


def _invoicing(request: Request, session: DbSession) -> Invoicing:
    state = request.app.state
    return Invoicing.build(state.runtime, session, state.customers)


InvoicingService = Annotated[Invoicing, Depends(_invoicing)]


def invoice_out(invoice: InvoiceSnapshot) -> InvoiceOut:
    unpaid = invoice.status == "open"
    dispute = invoice.dispute
    return InvoiceOut(
        id=invoice.invoice_id,
        workspace_id=invoice.workspace_id,
        stripe_invoice_id=invoice.stripe_invoice_id,
        kind=invoice.kind,
        description=invoice.description,
        status=invoice.status,
        amount_due_cents=invoice.amount_due_cents,
        amount_paid_cents=invoice.amount_paid_cents,
        amount_refunded_cents=invoice.amount_refunded_cents,
        application_fee_cents=invoice.application_fee_cents,
        currency=invoice.currency,
        hosted_invoice_url=invoice.hosted_invoice_url,
        pay_url=invoice.hosted_invoice_url if unpaid else None,
        past_due=invoice.past_due,
        dispute=DisputeOut(
            status=dispute.status, amount_cents=dispute.amount_cents, reason=dispute.reason
        )
        if dispute
        else None,
        created_at=invoice.created_at,
        paid_at=invoice.paid_at,
    )


def _subscription_out(subscription: Subscription, product: Product | None) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.stripe_subscription_id,
        workspace_id=subscription.workspace_id,
        product_id=product.product_id if product else subscription.product_id,
        product_name=product.name if product else None,
        cadence=product.cadence if product else None,
        stripe_product_id=subscription.stripe_product_id,
        status=subscription.status,
        amount_cents=subscription.amount_cents,
        currency=subscription.currency,
        current_period_end=subscription.current_period_end,
        cancel_at_period_end=subscription.cancel_at_period_end,
    )


def _portal_client(principal: Principal, workspace_id: str) -> str:
    """The client's agency, once the workspace is one of theirs (else it does not exist)."""
    principal.require_workspace(workspace_id)
    return principal.require_agency()


@router.post(
    "/workspaces/{workspace_id}/invoices",
    status_code=201,
    response_model=InvoiceOut,
    responses=documented(
        ForbiddenError,
        NotFoundError,
        ConnectRequiredError,
        AgencySuspendedCannotBillError,
        StripeFailedError,
        UnavailableError,
    ),
)
async def charge_for_project(
    workspace_id: str,
    body: OneOffInvoiceCreate,
    principal: AgencyStaff,
    invoicing: InvoicingService,
) -> InvoiceOut:
    invoice = await invoicing.charge_for_project(principal.require_agency(), workspace_id, body)
    return invoice_out(invoice)


@router.get(
    "/workspaces/{workspace_id}/invoices",
    response_model=InvoiceList,
    responses=documented(ForbiddenError, NotFoundError),
)
async def list_workspace_invoices(
    workspace_id: str, principal: AgencyStaff, invoicing: InvoicingService
) -> InvoiceList:
    found = await invoicing.workspace_invoices(principal.require_agency(), workspace_id)
    return InvoiceList(data=[invoice_out(invoice) for invoice in found])


@router.get(
    "/portal/workspaces/{workspace_id}/billing",
    response_model=PortalBilling,
    responses=documented(ForbiddenError, NotFoundError),
)
async def portal_billing(
    workspace_id: str, principal: Client, invoicing: InvoicingService
) -> PortalBilling:
    agency_id = _portal_client(principal, workspace_id)
    subscriptions = await invoicing.active_subscriptions(agency_id, workspace_id)
    outstanding = await invoicing.workspace_invoices(agency_id, workspace_id, outstanding=True)
    return PortalBilling(
        subscriptions=[_subscription_out(sub, product) for sub, product in subscriptions],
        outstanding_invoices=[invoice_out(invoice) for invoice in outstanding],
    )


@router.get(
    "/portal/workspaces/{workspace_id}/invoices",
    response_model=InvoiceList,
    responses=documented(ForbiddenError, NotFoundError),
)
async def portal_invoices(
    workspace_id: str, principal: Client, invoicing: InvoicingService
) -> InvoiceList:
    agency_id = _portal_client(principal, workspace_id)
    found = await invoicing.workspace_invoices(agency_id, workspace_id)
    return InvoiceList(data=[invoice_out(invoice) for invoice in found])


@router.post(
    "/portal/workspaces/{workspace_id}/payment-methods/session",
    response_model=PaymentMethodsSession,
    responses=documented(ForbiddenError, NotFoundError, StripeFailedError, UnavailableError),
)
async def payment_methods_session(
    workspace_id: str,
    body: PaymentMethodsSessionCreate,
    principal: Client,
    invoicing: InvoicingService,
) -> PaymentMethodsSession:
    agency_id = _portal_client(principal, workspace_id)
    url = await invoicing.payment_methods_url(agency_id, workspace_id, body.return_url)
    return PaymentMethodsSession(url=url)
