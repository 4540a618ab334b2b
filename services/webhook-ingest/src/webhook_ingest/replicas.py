"""Which agency an event belongs to: the replica of connected account → agency (catalog's
events and account metadata), cached in the process, else the object's metadata."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from webhook_ingest import repository
from webhook_ingest.rules.normalize import agency_from_metadata


class AgencyDirectory:
    """Connected account → agency as far as this process has seen it (an account never
    changes agency); the ``account_agencies`` table is the durable replica."""

    def __init__(self, limit: int = 100_000) -> None:
        self._known: dict[str, str] = {}
        self._limit = limit

    def get(self, account_id: str) -> str | None:
        return self._known.get(account_id)

    def put(self, account_id: str, agency_id: str) -> None:
        if len(self._known) >= self._limit:
            self._known.clear()
        self._known[account_id] = agency_id

    async def agency_of(
        self, event: Mapping[str, Any], pool: Callable[[], Awaitable[Any]]
    ) -> str | None:
        """The event's agency: the replica's for its account, else its metadata's. An
        account object carrying ``metadata.agency_id`` updates the replica first."""
        obj = event["data"]["object"]
        from_metadata = agency_from_metadata(event)
        own_account = obj.get("object") == "account" and isinstance(obj.get("id"), str)
        if own_account and from_metadata and self.get(obj["id"]) != from_metadata:
            async with (await pool()).acquire() as conn:
                await repository.remember_account(conn, obj["id"], from_metadata)
            self.put(obj["id"], from_metadata)
        account = event.get("account")
        if not account:
            return from_metadata
        found = self.get(account)
        if found is None:
            async with (await pool()).acquire() as conn:
                found = await repository.agency_of_account(conn, account)
            if found is not None:
                self.put(account, found)
        return found or from_metadata
