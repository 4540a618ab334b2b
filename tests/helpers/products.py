"""Products and their events as catalog makes them, for tests that start below the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.catalog_products import ProductCreated, ProductSnapshot
from billing_kit.db import unit_of_work
from billing_kit.runtime import Runtime
from catalog.models import Product
from catalog.repository import CatalogRepository
from catalog.service import Catalog


def unsaved_product(agency_id: str, **overrides: object) -> Product:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "agency_id": agency_id,
        "name": "Automation retainer",
        "description": None,
        "cadence": "monthly",
        "amount_cents": 250_000,
        "currency": "usd",
        "status": "active",
        "stripe_account_id": "acct_test",
        "stripe_product_id": f"prod_{uuid.uuid4().hex[:14]}",
        "stripe_price_id": f"price_{uuid.uuid4().hex[:14]}",
        "revision": 1,
        "created_at": datetime.now(UTC),
    }
    values.update(overrides)
    return Product(**values)


def catalog_without_stripe(runtime: Runtime, session: AsyncSession) -> Catalog:
    # Recording a product touches no Stripe: the gateway is never called on this path.
    repository = CatalogRepository(session)
    return Catalog(session, repository, runtime.outbox, stripe=None)  # type: ignore[arg-type]


async def record_product(runtime: Runtime, agency_id: str) -> Product:
    """Store a product and its ``product.created`` in one transaction, as catalog does."""
    product = unsaved_product(agency_id)
    async with unit_of_work(runtime.sessions) as session:
        await catalog_without_stripe(runtime, session).record_product(product)
    return product


def product_created(agency_id: str = "agency-x", **payload: object) -> ProductCreated:
    values: dict[str, object] = {
        "product_id": str(uuid.uuid4()),
        "name": "Automation retainer",
        "cadence": "monthly",
        "amount_cents": 250_000,
        "currency": "usd",
        "status": "active",
        "stripe_account_id": "acct_test",
        "stripe_product_id": "prod_test",
        "stripe_price_id": "price_test",
        "created_at": datetime.now(UTC),
    }
    values.update(payload)
    return ProductCreated(
        agency_id=agency_id,
        correlation_id=uuid.uuid4().hex,
        payload=ProductSnapshot.model_validate(values),
    )
