"""In-memory stand-ins for catalog's ports (``catalog.service.ports``), for the fast tier: each
keeps its state in dicts and lists that a test arranges and reads back. ``CatalogFakes`` wires
them into a ``Catalog`` as ``Catalog.build`` wires the real ones, around one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing_kit.errors import StripeFailedError
from catalog.models import Agency, Product
from catalog.service import Catalog
from catalog.stripe_gateway import AccountState, AccountUnknownError, StripeProductIds
from tests.helpers.outbox import FakeOutbox
from tests.helpers.pending_commands import FakeCommands

NOT_ONBOARDED = AccountState(charges_enabled=False, payouts_enabled=False, details_submitted=False)


class FakeRepository:
    """The catalog's tables as dicts; a product added is stored at the next flush, unless its
    name is one the "database" refuses (``refused_names``)."""

    def __init__(self) -> None:
        self.agencies: dict[str, Agency] = {}
        self.rows: dict[str, Product] = {}
        self.unflushed: list[Product] = []
        self.refused_names: set[str] = set()
        self.flushes = 0

    async def agency(self, agency_id: str, *, for_update: bool = False) -> Agency | None:
        return self.agencies.get(agency_id)

    async def agency_by_account(self, account_id: str) -> Agency | None:
        found = (a for a in self.agencies.values() if a.stripe_account_id == account_id)
        return next(found, None)

    async def ensure_agency(self, agency_id: str) -> Agency:
        return self.agencies.setdefault(agency_id, Agency(agency_id=agency_id))

    async def product(
        self, agency_id: str, product_id: str, *, for_update: bool = False
    ) -> Product | None:
        found = self.rows.get(product_id)
        return found if found is not None and found.agency_id == agency_id else None

    async def products(self, agency_id: str, status: str | None) -> Sequence[Product]:
        ours = [p for p in self.rows.values() if p.agency_id == agency_id]
        ours = [p for p in ours if status is None or p.status == status]
        by_id = sorted(ours, key=lambda p: p.id)
        return sorted(by_id, key=lambda p: p.created_at, reverse=True)  # newest first, then id

    def add(self, product: Product) -> None:
        self.unflushed.append(product)

    async def flush(self) -> None:
        refused = [p for p in self.unflushed if p.name in self.refused_names]
        if refused:
            raise IntegrityError("INSERT INTO catalog.products", {}, Exception("refused"))
        self.rows.update((p.id, p) for p in self.unflushed)
        self.unflushed.clear()
        self.flushes += 1


@dataclass
class StripeProduct:
    """A product and its price on a connected account, as Stripe holds them."""

    account_id: str
    product_id: str
    """Our product's id (its metadata and its idempotency keys)."""
    stripe_product_id: str
    stripe_price_id: str
    name: str
    description: str | None
    cadence: str
    amount_cents: int
    currency: str
    active: bool = True
    price_active: bool = True


@dataclass
class FakeStripe:
    """Stripe as the catalog sees it. A create under a key already used returns what that
    key made; a call named in ``failing`` is refused (``StripeFailedError``) before it makes
    anything; an account in ``unknown_accounts`` is one Stripe no longer knows."""

    accounts: dict[str, str] = field(default_factory=dict)
    """Connected accounts by idempotency key."""
    account_states: dict[str, AccountState] = field(default_factory=dict)
    unknown_accounts: set[str] = field(default_factory=set)
    products: dict[str, StripeProduct] = field(default_factory=dict)
    """Products by our product id."""
    failing: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)
    links: int = 0

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.failing:
            raise StripeFailedError()

    def made(self, stripe_product_id: str) -> StripeProduct:
        [found] = [p for p in self.products.values() if p.stripe_product_id == stripe_product_id]
        return found

    async def create_account(self, agency_id: str, replaces: str | None = None) -> str:
        self._call("create_account")
        key = f"catalog:account:{agency_id}" + (f":after:{replaces}" if replaces else "")
        account_id = self.accounts.setdefault(key, f"acct_{len(self.accounts) + 1:04d}")
        self.account_states.setdefault(account_id, NOT_ONBOARDED)
        return account_id

    async def account_state(self, account_id: str) -> AccountState:
        self._call("account_state")
        return self.account_states[account_id]

    async def onboarding_link(
        self, account_id: str, return_url: str, refresh_url: str
    ) -> tuple[str, int]:
        self._call("onboarding_link")
        if account_id in self.unknown_accounts:
            raise AccountUnknownError(account_id)
        self.links += 1
        return f"https://connect.stripe.test/setup/{account_id}/{self.links}", 1_900_000_000

    async def create_product_with_price(self, **request: Any) -> StripeProductIds:
        """Both, under our product id's keys (``CatalogStripe`` names the parameters)."""
        self._call("create_product_with_price")
        number = len(self.products) + 1
        del request["agency_id"]  # in the metadata only
        made = self.products.setdefault(
            request["product_id"],
            StripeProduct(
                stripe_product_id=f"prod_{number:04d}",
                stripe_price_id=f"price_{number:04d}",
                **request,
            ),
        )
        return StripeProductIds(product_id=made.stripe_product_id, price_id=made.stripe_price_id)

    async def rename_product(
        self, account_id: str, stripe_product_id: str, name: str, description: str | None
    ) -> None:
        self._call("rename_product")
        made = self.made(stripe_product_id)
        made.name, made.description = name, description

    async def archive(
        self, account_id: str, stripe_product_id: str, stripe_price_id: str | None
    ) -> None:
        self._call("archive")
        made = self.made(stripe_product_id)
        made.active = made.price_active = False

    async def withdraw_product(self, account_id: str, product_id: str) -> None:
        self._call("withdraw_product")
        made = self.products.get(product_id)
        if made is not None:
            made.active = made.price_active = False


class CatalogFakes:
    """One transaction's fakes; ``catalog()`` is the service over them."""

    def __init__(self) -> None:
        self.session = AsyncSession()  # never bound: the fakes only check they share it
        self.repository = FakeRepository()
        self.outbox = FakeOutbox(self.session)
        self.stripe = FakeStripe()
        self.commands = FakeCommands(self.session)

    def catalog(self) -> Catalog:
        return Catalog(self.session, self.repository, self.outbox, self.stripe, self.commands)

    def onboarded(self, agency_id: str, account_id: str = "acct_onboarded") -> Agency:
        """An agency whose connected account may take charges."""
        state = AccountState(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        self.stripe.account_states[account_id] = state
        agency = Agency(
            agency_id=agency_id,
            stripe_account_id=account_id,
            charges_enabled=True,
            payouts_enabled=True,
            details_submitted=True,
            account_seen_at=1,
        )
        self.repository.agencies[agency_id] = agency
        return agency

    def published(self) -> list[tuple[str, str, str]]:
        """What the outbox holds: (topic, event type, key) of each event, in order."""
        return [(p.topic, p.event_type, p.key) for p in self.outbox.published]
