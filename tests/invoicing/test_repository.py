"""The API and the consumers both mirror an invoice the moment they first see it (the API
after creating it on Stripe, the consumers on its webhooks): first sights at the same time
make one row and never fail."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from billing_devstack import Infra
from billing_kit.db import unit_of_work
from invoicing import repository
from invoicing.models import Invoice
from tests.helpers.databases import service_sessions

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[Any]:
    async with service_sessions(infra.database_url, "invoicing", pool_size=8) as made:
        yield made


async def _first_sight(sessions: Any, stripe_invoice_id: str) -> None:
    async with unit_of_work(sessions) as session:
        await repository.ensure_invoice(
            session,
            {
                "stripe_invoice_id": stripe_invoice_id,
                "stripe_account_id": "acct_firstsight",
                "kind": "one_off",
                "status": "draft",
                "currency": "usd",
                "stripe_created_at": datetime.now(UTC),
                "seen_at": -1,
            },
        )


async def test_simultaneous_first_sights_make_one_row(sessions: Any) -> None:
    invoice_ids = [f"in_{uuid.uuid4().hex[:24]}" for _ in range(200)]
    for stripe_invoice_id in invoice_ids:
        await asyncio.gather(*(_first_sight(sessions, stripe_invoice_id) for _ in range(4)))
    async with unit_of_work(sessions) as session:
        rows = await session.scalar(
            select(func.count()).where(col(Invoice.stripe_invoice_id).in_(invoice_ids))
        )
    assert rows == len(invoice_ids)
