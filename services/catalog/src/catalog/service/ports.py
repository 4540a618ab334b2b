"""What the catalog's rules need of the world, as the rules use it: its queries and rows
(``catalog.repository.CatalogRepository``), Stripe (``catalog.stripe_gateway.CatalogStripe``),
the outbox and the pending records (the kit's ``Outbox`` and ``PendingCommands``).

``Catalog.build`` wires the real objects; the fast tests wire fakes that keep their state in
memory (``tests/helpers/catalog/fakes.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_kit.errors import StripeFailedError
from billing_kit.pending_commands import PendingCommand, Status
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


class Publisher(Protocol):
    """The outbox: events written in the caller's transaction (``billing_kit.outbox``)."""

    async def add(self, session: AsyncSession, topic: Topic, *events: Event) -> None: ...


class Commands(Protocol):
    """The pending records of catalog's commands (``billing_kit.pending_commands``)."""

    async def open(
        self,
        session: AsyncSession,
        kind: str,
        request: Mapping[str, Any],
        *,
        agency_id: str | None = None,
        command_id: str | None = None,
    ) -> PendingCommand: ...

    async def finish(
        self, session: AsyncSession, command: PendingCommand, result: Mapping[str, Any]
    ) -> None: ...

    async def settle(
        self, command_id: str, status: Status, result: Mapping[str, Any] | None = None
    ) -> None: ...

    async def withdraw(
        self, command_id: str, undo: Awaitable[None]
    ) -> StripeFailedError | None: ...
