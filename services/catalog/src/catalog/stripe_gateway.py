"""catalog's calls to Stripe: the connected account, its onboarding links, products and prices.

Every create carries an idempotency key derived from our own ids, so a retry (ours or the
SDK's) can never make a second object. Deactivating a price or product is idempotent, so it is
retried until it holds: nothing is left active that our database does not list as active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stamina
import stripe
import structlog

from billing_kit.errors import StripeFailedError
from billing_kit.stripe_client import account_gone, call_stripe

log = structlog.get_logger(__name__)

_INTERVALS = {"monthly": "month", "yearly": "year"}
DEACTIVATE_ATTEMPTS = 5


@dataclass(frozen=True)
class StripeProductIds:
    product_id: str
    price_id: str


@dataclass(frozen=True)
class AccountState:
    """What Stripe says of a connected account right now."""

    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool


UNKNOWN_ACCOUNT_CODES = frozenset({"account_invalid", "resource_missing"})


class AccountUnknownError(Exception):
    """Stripe no longer knows the connected account, or the platform lost access to it."""

    def __init__(self, account_id: str) -> None:
        super().__init__(account_id)
        self.account_id = account_id


def _account_unknown(exc: stripe.StripeError) -> bool:
    """Stripe no longer knows the account (deleted, or the platform's access revoked)."""
    return isinstance(exc, stripe.PermissionError | stripe.InvalidRequestError) and (
        exc.http_status in (401, 403, 404) or exc.code in UNKNOWN_ACCOUNT_CODES
    )


def _product_of(found: stripe.Product) -> str | None:
    """Our product a Stripe product was made for (its metadata says)."""
    product_id = (found.to_dict().get("metadata") or {}).get("product_id")
    return None if product_id is None else str(product_id)


class CatalogStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def create_account(self, agency_id: str, replaces: str | None = None) -> str:
        """The agency's connected account; ``replaces``: the account Stripe no longer knows
        that this one takes the place of (a key of its own, so Stripe makes a new one)."""
        key = f"catalog:account:{agency_id}" + (f":after:{replaces}" if replaces else "")
        account = await call_stripe(
            self.client.v1.accounts.create_async(
                params={
                    "type": "express",
                    "metadata": {"agency_id": agency_id},
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                },
                options={"idempotency_key": key},
            )
        )
        return account.id

    async def account_state(self, account_id: str) -> AccountState:
        account = await call_stripe(self.client.v1.accounts.retrieve_async(account_id))
        return AccountState(
            charges_enabled=bool(account.charges_enabled),
            payouts_enabled=bool(account.payouts_enabled),
            details_submitted=bool(account.details_submitted),
        )

    async def onboarding_link(
        self, account_id: str, return_url: str, refresh_url: str
    ) -> tuple[str, int]:
        """A single-use onboarding link; ``AccountUnknownError`` when Stripe no longer knows
        the account (deleted, or the platform's access revoked)."""
        link = await call_stripe(
            self.client.v1.account_links.create_async(
                params={
                    "account": account_id,
                    "type": "account_onboarding",
                    "return_url": return_url,
                    "refresh_url": refresh_url,
                }
            ),
            none_when=_account_unknown,
        )
        if link is None:
            raise AccountUnknownError(account_id)
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
        stripe_product = await call_stripe(
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
            price = await call_stripe(
                self.client.v1.prices.create_async(
                    params=price_params,  # type: ignore[arg-type]
                    options={
                        "stripe_account": account_id,
                        "idempotency_key": f"catalog:price:{product_id}",
                    },
                )
            )
        except StripeFailedError:
            await self.discard(account_id, stripe_product.id, stripe_price_id=None)
            raise
        return StripeProductIds(product_id=stripe_product.id, price_id=price.id)

    async def rename_product(
        self, account_id: str, stripe_product_id: str, name: str, description: str | None
    ) -> None:
        await call_stripe(
            self.client.v1.products.update_async(
                stripe_product_id,
                params={"name": name, "description": description or ""},
                options={"stripe_account": account_id},
            )
        )

    async def archive(
        self, account_id: str, stripe_product_id: str, stripe_price_id: str | None
    ) -> None:
        """Deactivate the price, then its product, each retried until Stripe has it."""
        options: Any = {"stripe_account": account_id}
        if stripe_price_id is not None:
            await self._deactivate(self.client.v1.prices, stripe_price_id, options)
        await self._deactivate(self.client.v1.products, stripe_product_id, options)

    async def discard(
        self, account_id: str, stripe_product_id: str, stripe_price_id: str | None
    ) -> None:
        """Archive what a failed create made; what cannot be archived is logged for an
        operator, and the caller's own failure is the one it reports."""
        try:
            await self.archive(account_id, stripe_product_id, stripe_price_id)
        except StripeFailedError as exc:
            log.error(
                "a Stripe product and price our catalog does not list are still active",
                stripe_account_id=account_id,
                stripe_product_id=stripe_product_id,
                stripe_price_id=stripe_price_id,
                error=exc.message,
            )

    async def withdraw_product(self, account_id: str, product_id: str) -> None:
        """Archive whatever Stripe has of our product ``product_id`` (found by the id in its
        metadata, whichever step its command reached); raises when Stripe cannot be reached
        or will not archive it (the sweeper tries again)."""
        options: Any = {"stripe_account": account_id}

        async def made() -> tuple[list[stripe.Product], list[stripe.Price]]:
            listed = await self.client.v1.products.list_async(
                params={"limit": 100}, options=options
            )
            ours = [p async for p in listed.auto_paging_iter() if _product_of(p) == product_id]
            prices = []
            for found in ours:
                priced = await self.client.v1.prices.list_async(
                    params={"product": found.id, "limit": 100}, options=options
                )
                prices += [p async for p in priced.auto_paging_iter() if p.active]
            return ours, prices

        objects = await call_stripe(made(), none_when=account_gone)
        if objects is None:
            return  # the account is gone, and with it what the command made
        ours, prices = objects
        for price in prices:
            await self._deactivate(self.client.v1.prices, price.id, options)
        for found in ours:
            if found.active:
                await self._deactivate(self.client.v1.products, found.id, options)

    async def _deactivate(self, resource: Any, stripe_id: str, options: Any) -> None:
        # The object is ours and exists, so even a refusal is worth another attempt: a price
        # left inactive beside an active product is the half-made state this prevents.
        async def deactivate() -> None:
            async for attempt in stamina.retry_context(
                on=stripe.StripeError, attempts=DEACTIVATE_ATTEMPTS, timeout=30.0, wait_max=2.0
            ):
                with attempt:
                    await resource.update_async(
                        stripe_id, params={"active": False}, options=options
                    )

        await call_stripe(deactivate())
