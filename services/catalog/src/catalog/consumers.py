"""catalog's subscribers: Stripe account updates open (or close) the billing gate."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_accounts import ACCOUNTS, StripeAccountUpdated
from billing_kit.runtime import Runtime
from catalog.service import Catalog


def register(runtime: Runtime) -> None:
    async def on_account_updated(session: AsyncSession, event: StripeAccountUpdated) -> None:
        await Catalog.build(runtime, session).apply_account_update(event.agency_id, event.payload)

    runtime.subscribe(ACCOUNTS, "accounts", on_account_updated)
