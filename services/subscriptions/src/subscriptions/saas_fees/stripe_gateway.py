"""subscriptions' calls to Stripe for the platform's own SaaS fees, all on the platform
account (no ``Stripe-Account``): plan products and prices, and each agency's plan — a
subscription whose customer is the agency's connected account (``customer_account``), paid
from that account's Stripe balance.

Every create carries an idempotency key derived from our own ids (the plan id, the agency
plan id), so a retry or a lost answer can never make a second object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe
import structlog

from billing_kit.errors import StripeFailedError
from billing_kit.stripe_client import call_stripe, latest_invoice
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PlanPrice:
    product_id: str
    price_id: str


@dataclass(frozen=True)
class PlatformSubscriptionFacts:
    subscription_id: str
    status: str
    created: int
    billing_cycle_anchor: int
    latest_invoice_id: str | None
    latest_invoice_status: str | None
    latest_invoice_amount_due: int | None


def _id_or_none(value: object) -> str | None:
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None


def _facts(sub: stripe.Subscription) -> PlatformSubscriptionFacts:
    invoice_id, expanded = latest_invoice(sub)
    return PlatformSubscriptionFacts(
        subscription_id=sub.id,
        status=sub.status,
        created=sub.created,
        billing_cycle_anchor=sub.billing_cycle_anchor,
        latest_invoice_id=invoice_id,
        latest_invoice_status=expanded.status if expanded else None,
        latest_invoice_amount_due=expanded.amount_due if expanded else None,
    )


class PlatformStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_plan_price(
        self, *, plan_id: str, name: str, amount_cents: int, currency: str, interval: str
    ) -> PlanPrice:
        """Product and recurring price together; a product left without its price is
        archived, so nothing half-made stays offered."""
        metadata = {"platform_plan_id": plan_id}
        product = await call_stripe(
            self.client.v1.products.create_async(
                params={"name": name, "metadata": metadata},
                options={"idempotency_key": f"subscriptions:plan-product:{plan_id}"},
            )
        )
        try:
            price = await call_stripe(
                self.client.v1.prices.create_async(
                    params={
                        "product": product.id,
                        "currency": currency,
                        "unit_amount": amount_cents,
                        "recurring": {"interval": interval},
                        "metadata": metadata,
                    },
                    options={"idempotency_key": f"subscriptions:plan-price:{plan_id}"},
                )
            )
        except StripeFailedError:
            await self._archive_quietly(product.id)
            raise
        return PlanPrice(product.id, price.id)

    async def _archive_quietly(self, product_id: str) -> None:
        try:
            await self.client.v1.products.update_async(product_id, params={"active": False})
        except stripe.StripeError as exc:
            log.error("could not archive a plan product", product=product_id, error=repr(exc))

    async def subscribe_agency(
        self, *, agency_plan_id: str, account_id: str, price_id: str, metadata: dict[str, str]
    ) -> tuple[str, PlatformSubscriptionFacts]:
        """The agency's account as a customer (its ``customer`` configuration beside
        ``merchant``), a ``stripe_balance`` payment method set up off-session, then the
        subscription paid with it. Answers the payment method and the subscription."""
        await call_stripe(
            self.client.v2.core.accounts.update_async(
                account_id,
                params={
                    "configuration": {
                        "customer": {},
                        "merchant": {"capabilities": {"card_payments": {"requested": True}}},
                    }
                },
            )
        )
        setup = await call_stripe(
            self.client.v1.setup_intents.create_async(
                params={
                    "allowed_payment_method_types": ["stripe_balance"],
                    "customer_account": account_id,
                    "confirm": True,
                    "usage": "off_session",
                    "metadata": metadata,
                },
                options={"idempotency_key": f"subscriptions:agency-plan-setup:{agency_plan_id}"},
            )
        )
        payment_method_id = _id_or_none(setup.payment_method)
        if payment_method_id is None:
            raise StripeFailedError("Stripe set up no stripe_balance payment method.")
        params: dict[str, Any] = {
            "customer_account": account_id,
            "items": [{"price": price_id}],
            "default_payment_method": payment_method_id,
            "payment_settings": {"payment_method_types": ["stripe_balance"]},
            "metadata": metadata,
            "expand": ["latest_invoice"],
        }
        sub = await call_stripe(
            self.client.v1.subscriptions.create_async(
                params=params,  # type: ignore[arg-type]
                options={
                    "idempotency_key": f"subscriptions:agency-plan-subscription:{agency_plan_id}"
                },
            )
        )
        return payment_method_id, _facts(sub)

    async def withdraw_plan(self, plan_id: str) -> None:
        """Archive whatever Stripe has of our plan ``plan_id`` (found by the id in its
        product's metadata, whichever step its command reached)."""

        async def archive() -> None:
            listed = await self.client.v1.products.list_async(params={"limit": 100})
            async for product in listed.auto_paging_iter():
                ours = (product.to_dict().get("metadata") or {}).get("platform_plan_id")
                if ours == plan_id and product.active:
                    await self.client.v1.products.update_async(product.id, params={"active": False})

        await call_stripe(archive())

    async def withdraw_agency_plan(self, account_id: str, agency_plan_id: str) -> None:
        """Cancel whatever Stripe has of our agency plan ``agency_plan_id`` on the agency's
        account (found by the id in its metadata, whichever step its command reached)."""

        async def cancel() -> None:
            listed = await self.client.v1.subscriptions.list_async(
                params={"customer_account": account_id, "status": "all", "limit": 100}
            )
            async for sub in listed.auto_paging_iter():
                ours = (sub.to_dict().get("metadata") or {}).get("agency_plan_id")
                if ours == agency_plan_id and sub.status not in SUBSCRIPTION_ENDED_STATUSES:
                    await self.client.v1.subscriptions.cancel_async(sub.id)

        await call_stripe(cancel())

    async def retrieve_subscription(self, subscription_id: str) -> PlatformSubscriptionFacts:
        sub = await call_stripe(
            self.client.v1.subscriptions.retrieve_async(
                subscription_id, params={"expand": ["latest_invoice"]}
            )
        )
        return _facts(sub)
