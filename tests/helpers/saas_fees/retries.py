"""The SaaS-fee retry runner driven as the service runs it (``python -m invoicing retries``)
against a migrated database of the test's own: the stack's invoicing never sees these retries."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from billing_kit.db import session_factory, unit_of_work
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from invoicing.models import kit_tables
from invoicing.saas_fees.models import Collection, CollectionRetry
from invoicing.saas_fees.service import Collections
from invoicing.saas_fees.stripe_gateway import CollectionsStripe


async def start_retry(
    engine: AsyncEngine, stripe_api_base: str, account: str, invoice: Any
) -> CollectionRetry:
    """The failed collection of ``invoice`` as invoicing records it, and its manual retry."""
    invoice_id = str(uuid.uuid4())
    async with (
        stripe_client("sk_test_emulator", stripe_api_base) as client,
        unit_of_work(session_factory(engine)) as session,
    ):
        session.add(
            Collection(
                id=invoice_id,
                stripe_invoice_id=invoice.id,
                stripe_account_id=account,
                stripe_subscription_id=invoice.to_dict()["subscription"],
                status="open",
                currency="usd",
                amount_due=invoice.amount_due,
                attempt_count=1,
                failure_code="insufficient_funds",
                stripe_created_at=datetime.now(UTC),
            )
        )
        await session.flush()
        return await Collections(
            session, Outbox(kit_tables.outbox), CollectionsStripe(client)
        ).start_retry(invoice_id)


def run_retries(
    database_url: str,
    stripe_api_base: str,
    crash_after: str | None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """One runner process until nothing is due (or killed after ``crash_after``)."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STRIPE_API_BASE": stripe_api_base,
        "BILLING_ENV": "development",
        **(env or {}),
    }
    command = [sys.executable, "-m", "invoicing", "retries", "--until-idle"]
    if crash_after is not None:
        command += ["--crash-after", crash_after]
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


async def retry_row(engine: AsyncEngine, retry_id: str) -> CollectionRetry:
    async with unit_of_work(session_factory(engine)) as session:
        found = await session.get(CollectionRetry, retry_id)
        assert found is not None
        return found
