"""webhook-ingest's subscribers: catalog's agency events keep the account → agency replica."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.catalog_agencies import AGENCIES, AgencyConnectStatusChanged
from billing_contracts.envelope import Event
from billing_kit.runtime import Runtime
from webhook_ingest import repository
from webhook_ingest.agencies import AgencyDirectory


def register(runtime: Runtime, agencies: AgencyDirectory) -> None:
    async def on_agency_event(session: AsyncSession, event: Event) -> None:
        if not isinstance(event, AgencyConnectStatusChanged):
            return
        account_id = event.payload.stripe_account_id
        if account_id is not None:
            await repository.remember_account_in(session, account_id, event.payload.agency_id)
            agencies.put(account_id, event.payload.agency_id)

    runtime.subscribe(AGENCIES, "agencies", on_agency_event)
