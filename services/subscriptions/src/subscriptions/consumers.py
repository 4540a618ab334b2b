"""subscriptions' subscribers: catalog's products and agency profiles into local replicas."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.catalog_agencies import AGENCIES
from billing_contracts.catalog_products import PRODUCTS
from billing_contracts.envelope import Event
from billing_kit.runtime import Runtime
from subscriptions.service import Subscriptions


def register(runtime: Runtime) -> None:
    async def on_product(session: AsyncSession, event: Event) -> None:
        assert event.agency_id is not None
        await Subscriptions(session, runtime.outbox).apply_product(
            event.agency_id,
            event.payload,  # type: ignore[arg-type]
        )

    async def on_agency(session: AsyncSession, event: Event) -> None:
        await Subscriptions(session, runtime.outbox).apply_agency(event.payload)  # type: ignore[arg-type]

    runtime.subscribe(PRODUCTS, "products", on_product)
    runtime.subscribe(AGENCIES, "agencies", on_agency)
