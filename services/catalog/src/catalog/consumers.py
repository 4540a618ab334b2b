"""catalog's subscribers: Stripe account updates open (or close) the billing gate; an
account that revoked the platform's access is disconnected."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_accounts import (
    ACCOUNTS,
    StripeAccountDeauthorized,
    StripeAccountUpdated,
)
from billing_contracts.envelope import Event
from billing_kit.runtime import Runtime
from catalog.service import Catalog


def register(runtime: Runtime) -> None:
    async def on_account(session: AsyncSession, event: Event) -> None:
        catalog = Catalog.build(runtime, session)
        if isinstance(event, StripeAccountDeauthorized):
            await catalog.apply_deauthorization(event.payload.account_id)
        elif isinstance(event, StripeAccountUpdated):
            await catalog.apply_account_update(event.agency_id, event.payload)

    runtime.subscribe(ACCOUNTS, "accounts", on_account)
