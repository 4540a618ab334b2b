"""catalog's calls to Stripe: the connected account, its onboarding links, products and prices.

Every create carries an idempotency key derived from our own ids, so a retry (ours or the
SDK's) can never make a second object.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import stripe
import structlog

from billing_kit.stripe_client import stripe_failed

log = structlog.get_logger(__name__)
T = TypeVar("T")

_INTERVALS = {"monthly": "month", "yearly": "year"}


@dataclass(frozen=True)
class StripeProductIds:
    product_id: str
    price_id: str


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except stripe.StripeError as exc:
        raise stripe_failed(exc) from exc


class CatalogStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_account(self, agency_id: str) -> str:
        account = await _call(
            self.client.v1.accounts.create_async(
                params={
                    "type": "express",
                    "metadata": {"agency_id": agency_id},
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                },
                options={"idempotency_key": f"catalog:account:{agency_id}"},
            )
        )
        return account.id

    async def onboarding_link(
        self, account_id: str, return_url: str, refresh_url: str
    ) -> tuple[str, int]:
        link = await _call(
            self.client.v1.account_links.create_async(
                params={
                    "account": account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            )
        )
        return link.url, link.expires_at

    async def create_product_with_price(
        self,
        *,
        account_id: str,
        agency_id: str,
        product_id: str,
        name: str,
        description: str | None,
        cadence: str,
        amount_cents: int,
        currency: str,
    ) -> StripeProductIds:
        """Both or neither: a price that cannot be made archives the product made for it."""
        metadata = {"agency_id": agency_id, "product_id": product_id}
        product_params: dict[str, Any] = {"name": name, "metadata": metadata}
        if description:
            product_params["description"] = description
        stripe_product = await _call(
            self.client.v1.products.create_async(
                params=product_params,  # type: ignore[arg-type]
                options={
                    "stripe_account": account_id,
                    "idempotency_key": f"catalog:product:{product_id}",
                },
            )
        )
        price_params: dict[str, Any] = {
            "product": stripe_product.id,
            "unit_amount": amount_cents,
            "currency": currency,
            "metadata": metadata,
        }
        if cadence in _INTERVALS:
            price_params["recurring"] = {"interval": _INTERVALS[cadence]}
        try:
            price = await _call(
                self.client.v1.prices.create_async(
                    params=price_params,  # type: ignore[arg-type]
                    options={
                        "stripe_account": account_id,
                        "idempotency_key": f"catalog:price:{product_id}",
                    },
                )
            )
        except Exception:
            await self._deactivate_quietly(account_id, stripe_product.id)
            raise
        return StripeProductIds(product_id=stripe_product.id, price_id=price.id)

    async def _deactivate_quietly(self, account_id: str, stripe_product_id: str) -> None:
        try:
            await self.client.v1.products.update_async(
                stripe_product_id,
                params={"active": False},
                options={"stripe_account": account_id},
            )
        except stripe.StripeError as exc:
            log.error(
                "could not archive a Stripe product left without price",
                stripe_product_id=stripe_product_id,
                error=repr(exc),
            )

    async def rename_product(
        self, account_id: str, stripe_product_id: str, name: str, description: str | None
    ) -> None:
        await _call(
            self.client.v1.products.update_async(
                stripe_product_id,
                params={"name": name, "description": description or ""},
                options={"stripe_account": account_id},
            )
        )

    async def archive(self, account_id: str, stripe_product_id: str, stripe_price_id: str) -> None:
        options: Any = {"stripe_account": account_id}
        await _call(
            self.client.v1.prices.update_async(
                stripe_price_id, params={"active": False}, options=options
            )
        )
        await _call(
            self.client.v1.products.update_async(
                stripe_product_id, params={"active": False}, options=options
            )
        )
