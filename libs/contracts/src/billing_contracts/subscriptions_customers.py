"""``subscriptions.customers.v1`` — the one Stripe customer of each client workspace.

Published by subscriptions; key = workspace id.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class BillingCustomer(Payload):
    workspace_id: str
    stripe_account_id: str
    """The agency's connected account the customer lives on."""
    stripe_customer_id: str
    billing_email: str | None = None


class CustomerLinked(Event):
    """The workspace got its Stripe customer (made on first need, then reused)."""

    type: Literal["customer.linked"] = "customer.linked"
    payload: BillingCustomer
    aggregate_field: ClassVar[str] = "workspace_id"


CUSTOMERS = Topic(
    name="subscriptions.customers.v1",
    description="Which Stripe customer bills each client workspace. Key: workspace id.",
    events=(CustomerLinked,),
)
