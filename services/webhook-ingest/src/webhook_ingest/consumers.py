"""webhook-ingest's subscribers: catalog's agency events keep the account → agency replica."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Topic
from billing_contracts.catalog_agencies import AGENCIES, AgencyConnectStatusChanged
from billing_kit.inbox import Subscriber, by_event_type
from billing_kit.runtime import Runtime
from webhook_ingest import repository
from webhook_ingest.replicas import AgencyDirectory


def handlers(agencies: AgencyDirectory) -> dict[str, tuple[Topic, Subscriber]]:
    """What webhook-ingest does with each topic it consumes, by consumer (its group is
    ``webhook_ingest.<consumer>``), an event at a time."""

    async def on_connect_status(session: AsyncSession, event: AgencyConnectStatusChanged) -> None:
        account_id = event.payload.stripe_account_id
        if account_id is not None:
            await repository.remember_account_in(session, account_id, event.payload.agency_id)
            agencies.put(account_id, event.payload.agency_id)

    return {"agencies": (AGENCIES, by_event_type({AgencyConnectStatusChanged: on_connect_status}))}


def register(runtime: Runtime, agencies: AgencyDirectory) -> None:
    runtime.subscribe_all(handlers(agencies))
