"""Pure rules of invoicing: the platform fee, which Stripe state is newer, and which
``invoicing.invoices.v1`` events a change of an invoice makes.

Stripe does not order its events, and the same event may come twice. Each rule here orders
states so that applying any set of snapshots, in any order and any number of times, ends in
the same row: the latest state wins by how far it got, then by Stripe's ``created``. An
invoice's own order is the kit's (``billing_kit.stripe_states``), shared with every service
that mirrors invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from billing_kit.money import PLATFORM_FEE_PERCENT, percent_fee_cents

_DISPUTE_PROGRESS = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
    "warning_closed": 2,
    "won": 2,
    "lost": 2,
    "prevented": 2,
}
CLOSED_DISPUTE_STATUSES = frozenset({"warning_closed", "won", "lost", "prevented"})

_DELINQUENT_SUBSCRIPTION_STATUSES = frozenset({"past_due", "unpaid"})


def application_fee_cents(subtotal_cents: int) -> int:
    """The platform's 0.5 % of an invoice's subtotal, rounded half-up to the cent."""
    return percent_fee_cents(subtotal_cents, PLATFORM_FEE_PERCENT)


def dispute_state_key(status: str | None, stripe_created: int) -> tuple[int, int]:
    """Orders dispute snapshots: a decided dispute stays decided."""
    return (_DISPUTE_PROGRESS.get(status or "", -1), stripe_created)


def is_past_due(
    *, status: str, attempt_count: int, overdue: bool, subscription_status: str | None
) -> bool:
    """An open invoice whose payment failed, whose due date passed, or whose subscription
    Stripe has put in ``past_due`` (or ``unpaid``)."""
    if status != "open":
        return False
    return attempt_count > 0 or overdue or subscription_status in _DELINQUENT_SUBSCRIPTION_STATUSES


def refunded_total(by_charge: int, refunds: Sequence[tuple[int, bool]]) -> int:
    """A payment's refunded total from what the charge said (``amount_refunded`` at its
    highest) and the refunds known as ``(amount, failed)``: the refunds that did not fail,
    or the charge's figure less the failed ones, whichever tells more (a refund's own event
    may come after the charge's)."""
    failed = sum(amount for amount, has_failed in refunds if has_failed)
    standing = sum(amount for amount, has_failed in refunds if not has_failed)
    return max(standing, by_charge - failed, 0)


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
