"""Invoice snapshots as webhook-ingest publishes them, for revenue's tests."""

from __future__ import annotations

import uuid
from typing import Any

from billing_contracts.billing_invoices import StripeInvoiceSnapshot


def invoice_snapshot(
    agency_id: str, account: str, subscription: str, created: int, **fields: Any
) -> Any:
    return StripeInvoiceSnapshot(
        invoice_id=fields.pop("invoice_id"),
        stripe_event_id=f"evt_{uuid.uuid4().hex[:20]}",
        stripe_created=created,
        stripe_account_id=account,
        metadata={"agency_id": agency_id, "workspace_id": "ws-health"},
        subscription_id=subscription,
        currency="usd",
        amount_due=5000,
        amount_paid=0,
        amount_remaining=5000,
        created=created,
        **fields,
    )
