"""The catalog's rules: Connect onboarding gate, products with immutable prices, suspension.

No HTTP and no SQL text here, and never a commit: the edge owns the transaction, and every
state change writes its event to the outbox in that same transaction. The one exception is a
command's pending record, committed on its own before Stripe is called
(``billing_kit.pending_commands``), so a crash cannot lose what Stripe made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_accounts import StripeAccountSnapshot
from billing_contracts.catalog_agencies import (
    AGENCIES,
    AgencyBillingProfile,
    AgencyConnectStatusChanged,
    AgencySuspended,
    AgencyUnsuspended,
    ConnectStatus,
)
from billing_contracts.catalog_products import (
    PRODUCTS,
    ProductArchived,
    ProductCreated,
    ProductSnapshot,
    ProductUpdated,
)
from billing_kit.errors import ConnectRequiredError, NotFoundError, StripeFailedError
from billing_kit.outbox import Publisher
from billing_kit.pending_commands import Commands, PendingCommand, PendingCommands, command_id_of
from billing_kit.runtime import Runtime
from catalog.errors import PriceImmutableError
from catalog.models import Agency, Product, pending_commands
from catalog.repository import CatalogRepository
from catalog.schemas import ProductCreate, ProductPatch
from catalog.service.ports import Repository, StripeGateway
from catalog.stripe_gateway import AccountState, AccountUnknownError, CatalogStripe

log = structlog.get_logger(__name__)


def connect_status(agency: Agency | None) -> ConnectStatus:
    if agency is not None and agency.stripe_account_id is None and agency.disconnected_account_id:
        return "disconnected"
    if agency is None or agency.stripe_account_id is None:
        return "not_started"
    return "enabled" if agency.charges_enabled else "pending"


def account_state(agency: Agency) -> AccountState:
    return AccountState(
        charges_enabled=agency.charges_enabled,
        payouts_enabled=agency.payouts_enabled,
        details_submitted=agency.details_submitted,
    )


def billing_profile(agency: Agency) -> AgencyBillingProfile:
    return AgencyBillingProfile(
        agency_id=agency.agency_id,
        stripe_account_id=agency.stripe_account_id,
        connect_status=connect_status(agency),
        charges_enabled=agency.charges_enabled,
        suspended=agency.suspended,
        suspension_reason=agency.suspension_reason,
    )


def product_snapshot(product: Product) -> ProductSnapshot:
    return ProductSnapshot(
        product_id=product.id,
        name=product.name,
        description=product.description,
        cadence=product.cadence,
        amount_cents=product.amount_cents,
        currency=product.currency,
        status=product.status,
        stripe_account_id=product.stripe_account_id,
        stripe_product_id=product.stripe_product_id,
        stripe_price_id=product.stripe_price_id,
        created_at=product.created_at,
        revision=product.revision,
    )


CREATE_PRODUCT = "create_product"
CREATE_ACCOUNT = "create_account"
"""Kinds of the pending records of a new product and of the agency's connected account."""


def catalog_commands(runtime: Runtime) -> PendingCommands:
    return runtime.pending_commands(pending_commands)


async def withdraw_product(
    stripe: StripeGateway, commands: Commands, pending: PendingCommand
) -> None:
    """Archive what a product's command made on Stripe and mark it failed; when Stripe
    cannot be reached for that, it is left ``undoing`` for the sweeper."""
    undo = stripe.withdraw_product(pending.request["account_id"], pending.id)
    failed = await commands.withdraw(pending.id, undo)
    if failed is not None:
        log.error(
            "a Stripe product our catalog does not list may still be active",
            product_id=pending.id,
            error=failed.message,
        )


@dataclass
class Catalog:
    session: AsyncSession
    """The edge's transaction: the outbox rows and the pending records join it."""
    repository: Repository
    outbox: Publisher
    stripe: StripeGateway
    commands: Commands | None = None

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> Catalog:
        """The service for one transaction of the edge (a request or a consumed event)."""
        return cls(
            session,
            CatalogRepository(session),
            runtime.outbox,
            CatalogStripe(runtime.stripe),
            catalog_commands(runtime),
        )

    def _commands(self) -> Commands:
        assert self.commands is not None, "products are made by a Catalog built with commands"
        return self.commands

    # --- Connect onboarding -------------------------------------------------------------

    async def connect_profile(self, agency_id: str) -> Agency | None:
        return await self.repository.agency(agency_id)

    async def start_onboarding(
        self, agency_id: str, *, return_url: str, refresh_url: str
    ) -> tuple[str, str, int]:
        """Create the connected account on first call, then a fresh single-use link; an
        account Stripe no longer knows is recorded as disconnected and a new one made."""
        agency = await self.repository.ensure_agency(agency_id)
        if agency.stripe_account_id is not None:
            try:
                url, expires_at = await self.stripe.onboarding_link(
                    agency.stripe_account_id, return_url, refresh_url
                )
                return agency.stripe_account_id, url, expires_at
            except AccountUnknownError as exc:
                log.warning("connected account unknown to Stripe", account_id=exc.account_id)
                await self.disconnect(agency, exc.account_id)
        replaces = agency.disconnected_account_id
        commands = self._commands()
        parts = ("account", agency_id, *((replaces,) if replaces else ()))
        pending = await commands.open(
            self.session,
            CREATE_ACCOUNT,
            {"replaces": replaces} if replaces else {},
            agency_id=agency_id,
            command_id=command_id_of(*parts),
        )
        try:
            await self.record_account(agency, pending)
        except StripeFailedError:
            await commands.settle(pending.id, "failed")  # Stripe made nothing
            raise
        assert agency.stripe_account_id is not None
        url, expires_at = await self.stripe.onboarding_link(
            agency.stripe_account_id, return_url, refresh_url
        )
        return agency.stripe_account_id, url, expires_at

    async def apply_deauthorization(self, account_id: str) -> None:
        """The account revoked the platform's access (``account.application.deauthorized``)."""
        agency = await self.repository.agency_by_account(account_id)
        if agency is not None:
            await self.disconnect(agency, account_id)

    async def disconnect(self, agency: Agency, account_id: str) -> None:
        """Stripe no longer knows ``account_id``: the agency can no longer bill on it, and
        says ``disconnected`` until onboarding makes a new account."""
        if agency.stripe_account_id != account_id:
            return
        agency.disconnected_account_id = account_id
        agency.stripe_account_id = None
        agency.charges_enabled = agency.payouts_enabled = agency.details_submitted = False
        await self.repository.flush()
        await self._announce_connect_status(agency)

    async def record_account(self, agency: Agency, pending: PendingCommand) -> None:
        """The agency's connected account (again, under its agency key) on its profile,
        announced, with the record marked done, in this transaction; an account the profile
        already holds is kept."""
        account_id = await self.stripe.create_account(
            agency.agency_id, pending.request.get("replaces")
        )
        await self._commands().finish(self.session, pending, {"stripe_account_id": account_id})
        if agency.stripe_account_id is not None:
            return
        agency.stripe_account_id = account_id
        await self.repository.flush()
        await self._announce_connect_status(agency)

    async def apply_account_update(
        self, agency_id: str | None, snapshot: StripeAccountSnapshot
    ) -> None:
        """Apply Stripe's view of the account, monotonically: an event older than one already
        applied is ignored, and when two events share Stripe's ``created`` second (Stripe does
        not order them) and disagree, Stripe itself says which state is current."""
        agency = await self.repository.agency_by_account(snapshot.account_id)
        if agency is None:
            if agency_id is None:
                return  # not one of ours
            agency = await self.repository.ensure_agency(agency_id)
            if agency.disconnected_account_id == snapshot.account_id:
                return  # Stripe no longer knows it for us
            if agency.stripe_account_id not in (None, snapshot.account_id):
                return  # the agency has another account; this one is stale
            agency.stripe_account_id = snapshot.account_id
        if snapshot.stripe_created < agency.account_seen_at:
            return
        state = AccountState(
            charges_enabled=snapshot.charges_enabled,
            payouts_enabled=snapshot.payouts_enabled,
            details_submitted=snapshot.details_submitted,
        )
        if snapshot.stripe_created == agency.account_seen_at and state != account_state(agency):
            state = await self.stripe.account_state(snapshot.account_id)
        before = connect_status(agency)
        agency.account_seen_at = snapshot.stripe_created
        agency.charges_enabled = state.charges_enabled
        agency.payouts_enabled = state.payouts_enabled
        agency.details_submitted = state.details_submitted
        await self.repository.flush()
        if connect_status(agency) != before:
            await self._announce_connect_status(agency)

    async def _announce_connect_status(self, agency: Agency) -> None:
        await self.outbox.add(
            self.session,
            AGENCIES,
            AgencyConnectStatusChanged(agency_id=agency.agency_id, payload=billing_profile(agency)),
        )

    # --- Suspension -----------------------------------------------------------------------

    async def set_suspension(self, agency_id: str, suspended: bool, reason: str | None) -> Agency:
        agency = await self.repository.ensure_agency(agency_id)
        if agency.suspended == suspended and (not suspended or agency.suspension_reason == reason):
            return agency
        agency.suspended = suspended
        agency.suspension_reason = reason if suspended else None
        await self.repository.flush()
        event_type = AgencySuspended if suspended else AgencyUnsuspended
        await self.outbox.add(
            self.session,
            AGENCIES,
            event_type(agency_id=agency_id, payload=billing_profile(agency)),
        )
        return agency

    # --- Products -------------------------------------------------------------------------

    async def create_product(self, agency_id: str, command: ProductCreate) -> Product:
        """Create the Stripe Product and Price on the agency's account, then our row. The
        pending record is committed first and its id is the product's, so the same
        ``Idempotency-Key`` after a crash ends in the same Stripe objects; if Stripe refuses
        or the row cannot be written, what Stripe made is archived again."""
        agency = await self.repository.agency(agency_id)
        if agency is None or agency.stripe_account_id is None or not agency.charges_enabled:
            raise ConnectRequiredError()
        commands = self._commands()
        pending = await commands.open(
            self.session,
            CREATE_PRODUCT,
            {"account_id": agency.stripe_account_id, **command.model_dump(mode="json")},
            agency_id=agency_id,
        )
        if pending.status == "done":
            made = await self.repository.product(agency_id, pending.id)
            if made is not None:
                return made
        try:
            return await self.make_product(pending)
        except Exception:
            # Only plain values from here: the failed transaction can load nothing more.
            await withdraw_product(self.stripe, commands, pending)
            raise

    async def make_product(self, pending: PendingCommand) -> Product:
        """The command's Stripe objects (again, under its keys) and its row and event, with
        its record marked done, in this transaction."""
        request = pending.request
        agency_id, account_id = str(pending.agency_id), request["account_id"]
        stripe_ids = await self.stripe.create_product_with_price(
            account_id=account_id,
            agency_id=agency_id,
            product_id=pending.id,
            name=request["name"],
            description=request.get("description"),
            cadence=request["cadence"],
            amount_cents=request["amount_cents"],
            currency=request["currency"],
        )
        product = Product(
            id=pending.id,
            agency_id=agency_id,
            name=request["name"],
            description=request.get("description"),
            cadence=request["cadence"],
            amount_cents=request["amount_cents"],
            currency=request["currency"],
            status="active",
            stripe_account_id=account_id,
            stripe_product_id=stripe_ids.product_id,
            stripe_price_id=stripe_ids.price_id,
            revision=1,
            created_at=datetime.now(UTC),
        )
        await self.record_product(product)
        await self._commands().finish(
            self.session,
            pending,
            {"stripe_product_id": stripe_ids.product_id, "stripe_price_id": stripe_ids.price_id},
        )
        return product

    async def record_product(self, product: Product) -> None:
        """Store a new product and announce it, in the caller's transaction."""
        self.repository.add(product)
        await self.repository.flush()
        await self.outbox.add(
            self.session,
            PRODUCTS,
            ProductCreated(agency_id=product.agency_id, payload=product_snapshot(product)),
        )

    async def list_products(self, agency_id: str, status: str | None) -> Sequence[Product]:
        return await self.repository.products(agency_id, status)

    async def get_product(self, agency_id: str, product_id: str) -> Product:
        product = await self.repository.product(agency_id, product_id)
        if product is None:
            raise NotFoundError("No such product.")
        return product

    async def update_product(self, agency_id: str, product_id: str, patch: ProductPatch) -> Product:
        product = await self.repository.product(agency_id, product_id, for_update=True)
        if product is None:
            raise NotFoundError("No such product.")
        if patch.asks_for_a_new_price():
            raise PriceImmutableError()
        fields = patch.model_fields_set & {"name", "description"}
        name = patch.name if patch.name is not None else product.name
        description = patch.description if "description" in fields else product.description
        if (name, description) == (product.name, product.description):
            return product
        await self.stripe.rename_product(
            product.stripe_account_id, product.stripe_product_id, name, description
        )
        product.name, product.description = name, description or None
        await self._announce_revision(product, ProductUpdated)
        return product

    async def archive_product(self, agency_id: str, product_id: str) -> Product:
        product = await self.repository.product(agency_id, product_id, for_update=True)
        if product is None:
            raise NotFoundError("No such product.")
        if product.status == "archived":
            return product
        await self.stripe.archive(
            product.stripe_account_id, product.stripe_product_id, product.stripe_price_id
        )
        product.status = "archived"
        await self._announce_revision(product, ProductArchived)
        return product

    async def _announce_revision(
        self, product: Product, event_type: type[ProductUpdated] | type[ProductArchived]
    ) -> None:
        product.revision += 1
        await self.repository.flush()
        await self.outbox.add(
            self.session,
            PRODUCTS,
            event_type(agency_id=product.agency_id, payload=product_snapshot(product)),
        )
