"""subscriptions' subscribers: catalog's products and agency profiles into local replicas,
Stripe's subscription events into the status mirror (client subscriptions on connected
accounts, the SaaS fees' agency plans on the platform account), and the customer requests of other
services (answered on their reply topic)."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_invoices import STRIPE_INVOICES, StripeInvoiceSnapshot
from billing_contracts.billing_subscriptions import (
    STRIPE_SUBSCRIPTIONS,
    StripeSubscriptionSnapshot,
)
from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.customer_requests import (
    CUSTOMER_REQUESTS,
    BillingCustomerReply,
    BillingCustomerRequest,
    CustomerRequestError,
)
from billing_contracts.envelope import Event
from billing_kit.db import unit_of_work
from billing_kit.errors import (
    AgencySuspendedCannotBillError,
    BillingError,
    ConnectRequiredError,
    NotFoundError,
)
from billing_kit.rpc import serve_requests
from billing_kit.runtime import Runtime
from subscriptions.commands import subscriptions_service
from subscriptions.invoice_mirror import apply_invoice
from subscriptions.replicas import Replicas
from subscriptions.saas_fees.gateway import PlatformStripe
from subscriptions.saas_fees.service import PlatformPlans
from subscriptions.service import Subscriptions
from subscriptions.stripe_gateway import SubscriptionsStripe

log = structlog.get_logger(__name__)

_REPLY_ERRORS: dict[type[BillingError], CustomerRequestError] = {
    NotFoundError: "not_found",
    ConnectRequiredError: "connect_required",
    AgencySuspendedCannotBillError: "agency_suspended",
}


def register(runtime: Runtime) -> None:
    async def on_product(session: AsyncSession, event: Event) -> None:
        assert event.agency_id is not None
        await Replicas(session).apply_product(event.agency_id, event.payload)  # type: ignore[arg-type]

    async def on_agency(session: AsyncSession, event: Event) -> None:
        await Replicas(session).apply_agency(event.payload)  # type: ignore[arg-type]

    async def on_stripe_subscription(session: AsyncSession, event: Event) -> None:
        snapshot = event.payload
        assert isinstance(snapshot, StripeSubscriptionSnapshot)
        if snapshot.stripe_account_id is None:  # on the platform account: an agency's plan
            plans = PlatformPlans(session, runtime.outbox, PlatformStripe(runtime.stripe))
            await plans.apply_stripe_subscription(snapshot)
            return
        subscriptions = Subscriptions(session, runtime.outbox, SubscriptionsStripe(runtime.stripe))
        await subscriptions.apply_stripe_subscription(snapshot)

    async def on_stripe_invoice(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, StripeInvoiceSnapshot):  # not invoice payments
            await apply_invoice(session, event.type, event.payload)

    async def answer(request: BillingCustomerRequest) -> BillingCustomerReply:
        """Get or create the workspace's customer, committed before the answer leaves."""
        reply = BillingCustomerReply(agency_id=request.agency_id, workspace_id=request.workspace_id)
        try:
            async with unit_of_work(runtime.sessions) as session:
                customers = subscriptions_service(runtime, session).customers
                _, customer = await customers.ensure_customer(
                    request.agency_id, request.workspace_id
                )
        except BillingError as exc:
            log.info("customer request refused", code=exc.code, workspace_id=request.workspace_id)
            error = _REPLY_ERRORS.get(type(exc), "stripe_error")
            return reply.model_copy(update={"error": error, "message": exc.message})
        return reply.model_copy(
            update={
                "stripe_account_id": customer.stripe_account_id,
                "stripe_customer_id": customer.stripe_customer_id,
                "billing_email": customer.email,
            }
        )

    runtime.subscribe(PRODUCTS, "products", on_product)
    runtime.subscribe(AGENCIES, "agencies", on_agency)
    runtime.subscribe(STRIPE_SUBSCRIPTIONS, "stripe-subscriptions", on_stripe_subscription)
    runtime.subscribe(STRIPE_INVOICES, "stripe-invoices", on_stripe_invoice)
    serve_requests(runtime, CUSTOMER_REQUESTS, "customer-requests", answer)
