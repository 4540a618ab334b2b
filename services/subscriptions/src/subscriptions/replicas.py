"""Replicas of catalog's products and agency billing profiles, kept from its events: what a
new subscription may use and whether the agency may bill."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.catalog_agencies import AgencyBillingProfile
from billing_contracts.catalog_products import ProductSnapshot
from subscriptions.repository import SubscriptionsRepository


@dataclass
class Replicas:
    session: AsyncSession

    @property
    def repository(self) -> SubscriptionsRepository:
        return SubscriptionsRepository(self.session)

    async def apply_product(self, agency_id: str, snapshot: ProductSnapshot) -> None:
        """Keep the newest revision of a product; older or repeated snapshots change nothing."""
        await self.repository.upsert_product(
            {
                "product_id": snapshot.product_id,
                "agency_id": agency_id,
                "name": snapshot.name,
                "cadence": snapshot.cadence,
                "amount_cents": snapshot.amount_cents,
                "currency": snapshot.currency,
                "status": snapshot.status,
                "stripe_account_id": snapshot.stripe_account_id,
                "stripe_price_id": snapshot.stripe_price_id,
                "revision": snapshot.revision,
            },
        )

    async def apply_agency(self, profile: AgencyBillingProfile) -> None:
        await self.repository.upsert_agency(
            {
                "agency_id": profile.agency_id,
                "stripe_account_id": profile.stripe_account_id,
                "charges_enabled": profile.charges_enabled,
                "suspended": profile.suspended,
            },
        )
