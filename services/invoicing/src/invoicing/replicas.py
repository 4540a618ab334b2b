"""Replicas of what catalog owns: agencies' billing profiles (``catalog.agencies.v1``) —
whether an agency may start billing, asked of the kit's one billing gate — and products
(``catalog.products.v1``) — the names clients see on their subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.catalog_agencies import AgencyBillingProfile
from billing_contracts.catalog_products import ProductSnapshot
from billing_kit.billing_gate import ensure_agency_may_bill
from invoicing import repository
from invoicing.models import Agency, Product


async def apply_profile(
    session: AsyncSession, profile: AgencyBillingProfile, occurred_at: datetime
) -> None:
    """Keep the newest profile; one older than the held one changes nothing."""
    agency = await repository.ensure_agency(session, profile.agency_id)
    if occurred_at < agency.profile_at:
        return
    agency.stripe_account_id = profile.stripe_account_id
    agency.charges_enabled = profile.charges_enabled
    agency.suspended = profile.suspended
    agency.profile_at = occurred_at


def billing_account(agency: Agency | None) -> str:
    """The connected account an agency (its replica, None: not heard of yet) bills through;
    raises the gate's errors otherwise."""
    ensure_agency_may_bill(
        charges_enabled=bool(agency and agency.charges_enabled and agency.stripe_account_id),
        suspended=bool(agency and agency.suspended),
    )
    assert agency is not None
    assert agency.stripe_account_id is not None
    return agency.stripe_account_id


async def apply_product(
    session: AsyncSession, agency_id: str | None, snapshot: ProductSnapshot
) -> None:
    """Keep the newest revision of a product."""
    product = await session.get(Product, snapshot.product_id, with_for_update=True)
    if product is None:
        product = Product(product_id=snapshot.product_id, name=snapshot.name, stripe_price_id="")
        session.add(product)
    elif product.revision >= snapshot.revision:
        return
    product.agency_id = agency_id
    product.name = snapshot.name
    product.cadence = snapshot.cadence
    product.stripe_price_id = snapshot.stripe_price_id
    product.revision = snapshot.revision
