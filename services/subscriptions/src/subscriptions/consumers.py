"""subscriptions' subscribers: catalog's products and agency profiles into local replicas,
Stripe's subscription events into the status mirror (client subscriptions on connected
accounts, the SaaS fees' agency plans on the platform account), and the customer requests of other
services (answered on their reply topic)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Topic
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
from billing_kit.inbox import Subscriber
from billing_kit.rpc import serve_requests
from billing_kit.runtime import Runtime
from subscriptions.replicas import Replicas
from subscriptions.saas_fees.service import PlatformPlans
from subscriptions.service import Subscriptions
from subscriptions.service.invoice_mirror import apply_invoice

log = structlog.get_logger(__name__)

_REPLY_ERRORS: dict[type[BillingError], CustomerRequestError] = {
    NotFoundError: "not_found",
    ConnectRequiredError: "connect_required",
    AgencySuspendedCannotBillError: "agency_suspended",
}


def handlers(runtime: Runtime) -> dict[str, tuple[Topic, Subscriber]]:
    """What subscriptions does with each topic it consumes, by consumer (its group is
    ``subscriptions.<consumer>``), an event at a time."""

    async def on_product(session: AsyncSession, event: Event) -> None:
        assert event.agency_id is not None
        await Replicas(session).apply_product(event.agency_id, event.payload)  # type: ignore[arg-type]

    async def on_agency(session: AsyncSession, event: Event) -> None:
        await Replicas(session).apply_agency(event.payload)  # type: ignore[arg-type]

    async def on_stripe_subscription(session: AsyncSession, event: Event) -> None:
        snapshot = event.payload
        assert isinstance(snapshot, StripeSubscriptionSnapshot)
        if snapshot.stripe_account_id is None:  # on the platform account: an agency's plan
            await PlatformPlans.build(runtime, session).apply_stripe_subscription(snapshot)
            return
        mirror = Subscriptions.build(runtime, session).status_mirror
        await mirror.apply_stripe_subscription(snapshot)

    async def on_stripe_invoice(session: AsyncSession, event: Event) -> None:
        if isinstance(event.payload, StripeInvoiceSnapshot):  # not invoice payments
            await apply_invoice(session, event.type, event.payload)

    return {
        "products": (PRODUCTS, on_product),
        "agencies": (AGENCIES, on_agency),
        "stripe-subscriptions": (STRIPE_SUBSCRIPTIONS, on_stripe_subscription),
        "stripe-invoices": (STRIPE_INVOICES, on_stripe_invoice),
    }


def customer_requests(
    runtime: Runtime,
) -> Callable[[BillingCustomerRequest], Awaitable[BillingCustomerReply]]:
    """The answer to other services' customer requests (``customer-requests``)."""

    async def answer(request: BillingCustomerRequest) -> BillingCustomerReply:
        """Get or create the workspace's customer, committed before the answer leaves."""
        reply = BillingCustomerReply(agency_id=request.agency_id, workspace_id=request.workspace_id)
        try:
            async with unit_of_work(runtime.sessions) as session:
                customers = Subscriptions.build(runtime, session).customers
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

    return answer


def register(runtime: Runtime) -> None:
    runtime.subscribe_all(handlers(runtime))
    serve_requests(runtime, CUSTOMER_REQUESTS, "customer-requests", customer_requests(runtime))
