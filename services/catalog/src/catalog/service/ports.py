"""What the catalog's rules need of the world, as the rules use it: its queries and rows
(``catalog.repository.CatalogRepository``), Stripe (``catalog.stripe_gateway.CatalogStripe``),
the outbox and the pending records (the kit's ``Outbox`` and ``PendingCommands``).

``Catalog.build`` wires the real objects; the fast tests wire fakes that keep their state in
memory (``tests/helpers/catalog/fakes.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from catalog.models import Agency, Product
from catalog.stripe_gateway import AccountState, StripeProductIds


class Repository(Protocol):
    """Every query of one transaction, and the rows it adds."""

    async def agency(self, agency_id: str, *, for_update: bool = False) -> Agency | None: ...

    async def agency_by_account(self, account_id: str) -> Agency | None:
        """The agency holding ``account_id``, locked for this transaction."""

    async def ensure_agency(self, agency_id: str) -> Agency:
        """The agency's profile, created empty on first need; locked for this transaction."""

    async def product(
        self, agency_id: str, product_id: str, *, for_update: bool = False
    ) -> Product | None: ...

    async def products(self, agency_id: str, status: str | None) -> Sequence[Product]:
        """The agency's products (of ``status``, or all), newest first."""

    def add(self, product: Product) -> None:
        """A new product, written at the next flush."""

    async def flush(self) -> None:
        """Write what changed so far (the edge commits it)."""


class StripeGateway(Protocol):
    """The Stripe calls the catalog makes (``CatalogStripe`` documents each)."""

    async def create_account(self, agency_id: str, replaces: str | None = None) -> str: ...

    async def account_state(self, account_id: str) -> AccountState: ...

    async def onboarding_link(
        self, account_id: str, return_url: str, refresh_url: str
    ) -> tuple[str, int]: ...

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
    ) -> StripeProductIds: ...

    async def rename_product(
        self, account_id: str, stripe_product_id: str, name: str, description: str | None
    ) -> None: ...

    async def archive(
        self, account_id: str, stripe_product_id: str, stripe_price_id: str | None
    ) -> None: ...

    async def withdraw_product(self, account_id: str, product_id: str) -> None: ...
