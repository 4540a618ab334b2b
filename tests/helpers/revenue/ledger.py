"""Ledger entries as revenue would write them for a Stripe balance transaction, for tests
without infrastructure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from revenue.models import LedgerEntry
from revenue.rules import Figures, kind_of_balance_transaction


def entry_of(t: dict[str, Any], **changes: Any) -> LedgerEntry:
    """The entry of balance transaction ``t`` (a ledger kind), with ``changes`` made to it."""
    kind = kind_of_balance_transaction(t)
    assert kind is not None
    f = Figures.from_stripe(t)
    values: dict[str, Any] = {
        "entry_id": f.balance_transaction_id, "kind": kind, "agency_id": "a",
        "stripe_account_id": "acct_1", "currency": "usd", "gross_cents": f.gross,
        "stripe_fee_cents": f.stripe_fee, "platform_fee_cents": f.platform_fee,
        "net_cents": f.net, "occurred_at": datetime.fromtimestamp(t["created"], UTC),
    }  # fmt: skip
    return LedgerEntry(**{**values, **changes})
