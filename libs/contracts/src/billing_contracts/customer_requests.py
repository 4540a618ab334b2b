"""``subscriptions.customer-requests.v1`` — ask subscriptions for a workspace's Stripe customer.

subscriptions owns the one Stripe Customer of each workspace (per connected account). A
service that bills the workspace some other way (one-off invoices) never creates its own:
it publishes a ``BillingCustomerRequest`` with a ``reply_to`` header naming its reply topic
and a ``correlation_id`` header, and subscriptions answers on that topic with a
``BillingCustomerReply`` carrying the same ``correlation_id``. The request is a get-or-create,
so asking twice is harmless. Key: workspace id.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from billing_contracts.topics import RequestChannel

CUSTOMER_REQUESTS_TOPIC = "subscriptions.customer-requests.v1"
INVOICING_CUSTOMER_REPLIES_TOPIC = "invoicing.customer-replies.v1"

CustomerRequestError = Literal["not_found", "connect_required", "agency_suspended", "stripe_error"]


class BillingCustomerRequest(BaseModel):
    """The workspace whose Stripe customer is wanted (created on first need)."""

    agency_id: str
    workspace_id: str


class BillingCustomerReply(BaseModel):
    """The workspace's Stripe customer on the agency's connected account, or why there is none.

    ``not_found``: the agency has no such workspace; ``connect_required``: the agency has not
    finished Connect onboarding; ``agency_suspended``: the platform suspended the agency, so
    no new billing starts; ``stripe_error``: Stripe refused or failed (``message`` says how).
    """

    agency_id: str
    workspace_id: str
    stripe_account_id: str | None = None
    stripe_customer_id: str | None = None
    billing_email: str | None = None
    error: CustomerRequestError | None = None
    message: str | None = None


CUSTOMER_REQUESTS = RequestChannel(
    name=CUSTOMER_REQUESTS_TOPIC,
    description=(
        "Requests for a workspace's Stripe customer, answered by subscriptions on the "
        "requester's reply topic (headers reply_to and correlation_id). Key: workspace id."
    ),
    request=BillingCustomerRequest,
    reply=BillingCustomerReply,
    reply_topics=(INVOICING_CUSTOMER_REPLIES_TOPIC,),
)
