"""subscriptions' calls to Stripe, all on the agency's connected account: the workspace's
customer and its subscriptions.

Every create carries an idempotency key derived from our own ids (agency + workspace for the
customer, our subscription id for a subscription), so a retry or a race can never make a
second object.

Subscriptions are ``charge_automatically`` with ``payment_behavior=default_incomplete``:
Stripe finalizes the first invoice at once with its hosted page, so the client sees Pay now
immediately without our asking for a card first; the card paid with is saved on the
subscription (``save_default_payment_method=on_subscription``), so renewals charge it on
their own and a decline puts the subscription ``past_due`` under Stripe's dunning — which
``send_invoice`` would not do (it would email every renewal for manual payment and never
retry a card).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import stripe

from billing_kit.stripe_client import stripe_failed

T = TypeVar("T")

PLATFORM_FEE_PERCENT = Decimal("0.5")
"""The platform's application fee on every client invoice; never adjusted per invoice."""


@dataclass(frozen=True)
class StripeSubscriptionFacts:
    subscription_id: str
    status: str
    created: int
    latest_invoice_id: str | None
    latest_invoice_status: str | None
    hosted_invoice_url: str | None


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except stripe.StripeError as exc:
        raise stripe_failed(exc) from exc


def customer_idempotency_key(agency_id: str, workspace_id: str) -> str:
    return f"subscriptions:customer:{agency_id}:{workspace_id}"


def latest_invoice(sub: stripe.Subscription) -> tuple[str | None, stripe.Invoice | None]:
    """The subscription's latest invoice: its id, and the invoice itself when expanded."""
    invoice = sub.latest_invoice
    if isinstance(invoice, stripe.Invoice):
        return invoice.id, invoice
    return (invoice if isinstance(invoice, str) else None), None


def _facts(sub: stripe.Subscription) -> StripeSubscriptionFacts:
    invoice_id, expanded = latest_invoice(sub)
    return StripeSubscriptionFacts(
        subscription_id=sub.id,
        status=sub.status,
        created=sub.created,
        latest_invoice_id=invoice_id,
        latest_invoice_status=expanded.status if expanded else None,
        hosted_invoice_url=expanded.hosted_invoice_url if expanded else None,
    )


class SubscriptionsStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_customer(
        self, *, account_id: str, agency_id: str, workspace_id: str, name: str, email: str | None
    ) -> str:
        params: dict[str, Any] = {
            "name": name,
            "metadata": {"agency_id": agency_id, "workspace_id": workspace_id},
        }
        if email:
            params["email"] = email
        customer = await _call(
            self.client.v1.customers.create_async(
                params=params,  # type: ignore[arg-type]
                options={
                    "stripe_account": account_id,
                    "idempotency_key": customer_idempotency_key(agency_id, workspace_id),
                },
            )
        )
        return customer.id

    async def update_customer_email(
        self, account_id: str, customer_id: str, email: str | None
    ) -> None:
        await _call(
            self.client.v1.customers.update_async(
                customer_id,
                params={"email": email or ""},
                options={"stripe_account": account_id},
            )
        )

    async def create_subscription(
        self,
        *,
        account_id: str,
        customer_id: str,
        price_id: str,
        metadata: dict[str, str],
    ) -> StripeSubscriptionFacts:
        sub = await _call(
            self.client.v1.subscriptions.create_async(
                params={
                    "customer": customer_id,
                    "items": [{"price": price_id}],
                    "application_fee_percent": float(PLATFORM_FEE_PERCENT),
                    "collection_method": "charge_automatically",
                    "payment_behavior": "default_incomplete",
                    "payment_settings": {"save_default_payment_method": "on_subscription"},
                    "metadata": metadata,
                    "expand": ["latest_invoice"],
                },
                options={
                    "stripe_account": account_id,
                    "idempotency_key": f"subscriptions:subscription:{metadata['subscription_id']}",
                },
            )
        )
        return _facts(sub)

    async def withdraw_subscription(
        self, account_id: str, customer_id: str, subscription_id: str
    ) -> None:
        """Cancel whatever Stripe has of our subscription ``subscription_id`` on the customer
        (found by the id in its metadata, whichever step its command reached)."""
        try:
            listed = await self.client.v1.subscriptions.list_async(
                params={"customer": customer_id, "status": "all", "limit": 100},
                options={"stripe_account": account_id},
            )
            ours = [
                sub
                async for sub in listed.auto_paging_iter()
                if (sub.to_dict().get("metadata") or {}).get("subscription_id") == subscription_id
            ]
        except stripe.PermissionError:
            return  # the account is gone, and with it what the command made
        except stripe.StripeError as exc:
            raise stripe_failed(exc) from exc
        for sub in ours:
            if sub.status not in ("canceled", "incomplete_expired"):
                await self.cancel_subscription(account_id, sub.id)

    async def retrieve_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts:
        sub = await _call(
            self.client.v1.subscriptions.retrieve_async(
                subscription_id,
                params={"expand": ["latest_invoice"]},
                options={"stripe_account": account_id},
            )
        )
        return _facts(sub)

    async def cancel_subscription(
        self, account_id: str, subscription_id: str
    ) -> StripeSubscriptionFacts:
        """Cancel now; a subscription Stripe already ended counts as canceled."""
        try:
            sub = await self.client.v1.subscriptions.cancel_async(
                subscription_id, options={"stripe_account": account_id}
            )
        except stripe.StripeError as exc:
            current = await self.retrieve_subscription(account_id, subscription_id)
            if current.status in ("canceled", "incomplete_expired"):
                return current
            raise stripe_failed(exc) from exc
        return _facts(sub)
