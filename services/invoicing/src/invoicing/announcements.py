"""Which ``invoicing.invoices.v1`` events a change of an invoice makes (pure)."""

from __future__ import annotations

from typing import Any

from billing_contracts import Event
from billing_contracts.invoicing_invoices import (
    InvoiceDisputeClosed,
    InvoiceDisputed,
    InvoiceDisputeUpdated,
    InvoiceIssued,
    InvoiceMarkedUncollectible,
    InvoiceMirrored,
    InvoicePaid,
    InvoicePaymentFailed,
    InvoiceRefunded,
    InvoiceSnapshot,
    InvoiceUpdated,
    InvoiceVoided,
)
from invoicing.rules import CLOSED_DISPUTE_STATUSES

_STATUS_EVENTS: dict[str, type[Event]] = {
    "open": InvoiceIssued,
    "paid": InvoicePaid,
    "void": InvoiceVoided,
    "uncollectible": InvoiceMarkedUncollectible,
}


def _dispute_events(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[type[Event]]:
    if after is None or (before or {}).get("status") == after["status"]:
        return []
    if after["status"] in CLOSED_DISPUTE_STATUSES:
        return [InvoiceDisputed, InvoiceDisputeClosed] if before is None else [InvoiceDisputeClosed]
    return [InvoiceDisputed] if before is None else [InvoiceDisputeUpdated]


def changes(announced: dict[str, Any] | None, current: InvoiceSnapshot) -> list[type[Event]]:
    """The events that tell a consumer holding ``announced`` how the invoice became
    ``current``; empty when nothing it shows changed."""
    after = current.model_dump(mode="json", exclude={"revision"})
    if announced == after:
        return []
    before: dict[str, Any] = announced or {
        "status": "draft",
        "attempt_count": 0,
        "amount_refunded_cents": 0,
        "dispute": None,
    }
    events: list[type[Event]] = [] if announced else [InvoiceMirrored]
    if after["attempt_count"] > before["attempt_count"] and after["status"] == "open":
        events.append(InvoicePaymentFailed)
    if after["status"] != before["status"] and after["status"] in _STATUS_EVENTS:
        events.append(_STATUS_EVENTS[after["status"]])
    if after["amount_refunded_cents"] > before["amount_refunded_cents"]:
        events.append(InvoiceRefunded)
    events.extend(_dispute_events(before["dispute"], after["dispute"]))
    return events or [InvoiceUpdated]
