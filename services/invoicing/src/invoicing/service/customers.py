"""The workspace's one Stripe customer, asked of its owner: subscriptions creates it on first
need (with an idempotency key of agency + workspace, so two askers never make two) and
answers over Kafka. This module is the one place invoicing knows how."""

from __future__ import annotations

from billing_contracts.customer_requests import (
    CUSTOMER_REQUESTS_TOPIC,
    INVOICING_CUSTOMER_REPLIES_TOPIC,
    BillingCustomerReply,
    BillingCustomerRequest,
)
from billing_kit.errors import (
    AgencySuspendedCannotBillError,
    BillingError,
    ConnectRequiredError,
    NotFoundError,
    StripeFailedError,
)
from billing_kit.rpc import KafkaRequester
from billing_kit.runtime import Runtime
from invoicing.service import WorkspaceCustomer

TIMEOUT_SECONDS = 10.0

_ERRORS: dict[str, type[BillingError]] = {
    "not_found": NotFoundError,
    "connect_required": ConnectRequiredError,
    "agency_suspended": AgencySuspendedCannotBillError,
    "stripe_error": StripeFailedError,
}


class KafkaCustomers:
    """Asks subscriptions for the workspace's customer; raises its refusal as our error and
    ``UnavailableError`` when no answer comes in time."""

    def __init__(self, runtime: Runtime) -> None:
        self.requester = KafkaRequester(runtime, reply_topic=INVOICING_CUSTOMER_REPLIES_TOPIC)

    async def customer_for(self, agency_id: str, workspace_id: str) -> WorkspaceCustomer:
        reply = await self.requester.request(
            CUSTOMER_REQUESTS_TOPIC,
            key=workspace_id,
            body=BillingCustomerRequest(agency_id=agency_id, workspace_id=workspace_id),
            reply=BillingCustomerReply,
            timeout=TIMEOUT_SECONDS,
        )
        if reply.error is not None:
            error = _ERRORS.get(reply.error, StripeFailedError)
            raise error(reply.message or None)
        if reply.stripe_account_id is None or reply.stripe_customer_id is None:
            raise NotFoundError("No such workspace.")
        return WorkspaceCustomer(
            stripe_account_id=reply.stripe_account_id,
            stripe_customer_id=reply.stripe_customer_id,
            billing_email=reply.billing_email,
        )
