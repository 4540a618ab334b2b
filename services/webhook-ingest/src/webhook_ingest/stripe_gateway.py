"""webhook-ingest's reads from Stripe: balance-transaction figures an event lacks, and the
event list that replay walks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import stripe
import structlog

from billing_contracts.billing_stripe import BalanceFigures
from billing_kit.errors import UnavailableError
from billing_kit.stripe_client import stripe_failed
from webhook_ingest.normalize import FiguresLookup, figures_from_balance_transaction

log = structlog.get_logger(__name__)


def _options(account: str | None) -> Any:
    return {"stripe_account": account} if account else {}


def _as_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, stripe.StripeObject):
        return value.to_dict(for_json=True)
    return dict(value) if isinstance(value, Mapping) else None


class IngestStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def figures(self, lookup: FiguresLookup) -> BalanceFigures | None:
        """The balance transaction's figures; None when Stripe says there are none.

        A Stripe outage raises ``UnavailableError``: the enricher tries again later."""
        try:
            txn: Any
            if lookup.charge_id is not None:
                charge = await self.client.v1.charges.retrieve_async(
                    lookup.charge_id,
                    params={"expand": ["balance_transaction"]},
                    options=_options(lookup.account),
                )
                txn = charge.balance_transaction
                if isinstance(txn, str):
                    txn = await self.client.v1.balance_transactions.retrieve_async(
                        txn, options=_options(lookup.account)
                    )
            elif lookup.balance_transaction_id is not None:
                txn = await self.client.v1.balance_transactions.retrieve_async(
                    lookup.balance_transaction_id, options=_options(lookup.account)
                )
            else:
                return None
        except stripe.InvalidRequestError as exc:
            log.warning("balance transaction not readable", lookup=repr(lookup), error=str(exc))
            return None
        except stripe.StripeError as exc:
            raise UnavailableError("Stripe is unavailable; deliver this event again.") from exc
        found = _as_dict(txn)
        return figures_from_balance_transaction(found) if found else None

    async def failure_figures(self, lookup: FiguresLookup) -> BalanceFigures | None:
        """A failed refund's ``refund_failure`` figures (None for any other lookup)."""
        if lookup.failure_balance_transaction_id is None:
            return None
        return await self.figures(
            FiguresLookup(lookup.account, lookup.failure_balance_transaction_id)
        )

    async def events(
        self, start: int, end: int, account: str | None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event created in ``[start, end]`` on the platform or on ``account``; nothing
        for an account we may no longer read (deauthorized or deleted)."""
        try:
            page = await self.client.v1.events.list_async(
                params={"created": {"gte": start, "lte": end}, "limit": 100},
                options=_options(account),
            )
            async for event in page.auto_paging_iter():
                found = event.to_dict(for_json=True)
                if account is not None:
                    found.setdefault("account", account)
                yield found
        except stripe.PermissionError as exc:
            log.warning("events of this account are not readable", account=account, error=str(exc))
        except stripe.StripeError as exc:
            raise stripe_failed(exc) from exc
