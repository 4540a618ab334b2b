"""catalog's subscribers: Stripe account updates open (or close) the billing gate; an
account that revoked the platform's access is disconnected."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Topic
from billing_contracts.billing_accounts import (
    ACCOUNTS,
    StripeAccountDeauthorized,
    StripeAccountUpdated,
)
from billing_kit.inbox import Subscriber, by_event_type
from billing_kit.runtime import Runtime
from catalog.service import Catalog


def handlers(runtime: Runtime) -> dict[str, tuple[Topic, Subscriber]]:
    """What catalog does with each topic it consumes, by consumer (its group is
    ``catalog.<consumer>``), an event at a time."""

    async def on_account_updated(session: AsyncSession, event: StripeAccountUpdated) -> None:
        await Catalog.build(runtime, session).apply_account_update(event.agency_id, event.payload)

    async def on_deauthorized(session: AsyncSession, event: StripeAccountDeauthorized) -> None:
        await Catalog.build(runtime, session).apply_deauthorization(event.payload.account_id)

    return {
        "accounts": (
            ACCOUNTS,
            by_event_type(
                {
                    StripeAccountUpdated: on_account_updated,
                    StripeAccountDeauthorized: on_deauthorized,
                }
            ),
        ),
    }


def register(runtime: Runtime) -> None:
    runtime.subscribe_all(handlers(runtime))
