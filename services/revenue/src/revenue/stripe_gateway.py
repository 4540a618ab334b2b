"""revenue's reads from Stripe: what an event did not carry (a dispute's balance transactions,
an application fee refund's, which invoice a payment paid and whose invoice that is).

Only reads, so no idempotency keys; the SDK retries 429/5xx and network errors, and a read
that still fails makes the consumer retry the whole event later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import stripe

from billing_kit.stripe_client import call_stripe

StripeDict = dict[str, Any]


def _plain(obj: stripe.StripeObject) -> StripeDict:
    return obj.to_dict()


def merged_metadata(invoice: StripeDict) -> dict[str, str]:
    """An invoice's metadata over its subscription's (where our services put the tenant)."""
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    return {**(parent.get("metadata") or {}), **(invoice.get("metadata") or {})}


def subscription_of(invoice: StripeDict) -> str | None:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    found = parent.get("subscription") or invoice.get("subscription")
    if isinstance(found, dict):
        return str(found["id"])
    return str(found) if found else None


class RevenueStripe:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def balance_transaction(self, account: str, txn_id: str) -> StripeDict:
        txn = await self.client.v1.balance_transactions.retrieve_async(
            txn_id, options={"stripe_account": account}
        )
        return _plain(txn)

    async def dispute(self, account: str, dispute_id: str) -> StripeDict:
        dispute = await self.client.v1.disputes.retrieve_async(
            dispute_id, options={"stripe_account": account}
        )
        return _plain(dispute)

    async def charge(self, account: str, charge_id: str) -> StripeDict:
        charge = await self.client.v1.charges.retrieve_async(
            charge_id, options={"stripe_account": account}
        )
        return _plain(charge)

    async def fee_refund_transactions(self, fee_id: str, account: str) -> list[StripeDict]:
        """The connected account's balance transactions of every refund of a platform fee."""
        refunds = await self.client.v1.application_fees.refunds.list_async(
            fee_id, params={"limit": 100}
        )
        found: list[StripeDict] = []
        async for refund in refunds.auto_paging_iter():
            page = await self.client.v1.balance_transactions.list_async(
                params={"source": refund.id, "limit": 100}, options={"stripe_account": account}
            )
            found.extend(_plain(txn) for txn in page.data)
        return found

    async def invoice_paid_by(self, account: str, payment_intent_id: str) -> str | None:
        payments = await self.client.v1.invoice_payments.list_async(
            params={
                "payment": {"type": "payment_intent", "payment_intent": payment_intent_id},
                "limit": 1,
            },
            options={"stripe_account": account},
        )
        for payment in payments.data:
            invoice = payment.invoice
            return invoice if isinstance(invoice, str) else invoice.id
        return None

    async def invoice(self, account: str, invoice_id: str) -> StripeDict:
        invoice = await self.client.v1.invoices.retrieve_async(
            invoice_id, options={"stripe_account": account}
        )
        return _plain(invoice)

    async def agency_of_account(self, account: str) -> str | None:
        found = _plain(await self.client.v1.accounts.retrieve_async(account))
        agency = (found.get("metadata") or {}).get("agency_id")
        return str(agency) if agency else None

    async def balance_transactions(
        self,
        account: str,
        created_from: int,
        created_until: int | None = None,
        *,
        with_sources: bool = False,
    ) -> AsyncIterator[StripeDict]:
        """Every balance transaction of ``account`` created in ``[from, until)`` (no end:
        up to now); ``with_sources`` expands the object that moved the money."""
        created = {"gte": created_from}
        if created_until is not None:
            created["lt"] = created_until
        params: dict[str, Any] = {"created": created, "limit": 100}
        if with_sources:
            params["expand"] = ["data.source"]
        page = await self.client.v1.balance_transactions.list_async(
            params=params,  # type: ignore[arg-type]
            options={"stripe_account": account},
        )
        async for txn in page.auto_paging_iter():
            yield _plain(txn)

    async def find_balance_transaction(self, account: str, txn_id: str) -> StripeDict | None:
        """The balance transaction with its source expanded; None when Stripe has none."""
        txn = await call_stripe(
            self.client.v1.balance_transactions.retrieve_async(
                txn_id, params={"expand": ["source"]}, options={"stripe_account": account}
            ),
            none_when=lambda exc: isinstance(exc, stripe.InvalidRequestError),
            as_failure=False,
        )
        return None if txn is None else _plain(txn)

    async def charge_of_fee(self, fee_id: str) -> str | None:
        """The charge a platform fee was taken on."""
        fee = _plain(await self.client.v1.application_fees.retrieve_async(fee_id))
        charge = fee.get("charge")
        return str(charge["id"] if isinstance(charge, dict) else charge) if charge else None
