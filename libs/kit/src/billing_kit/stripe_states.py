"""Which of two Stripe states is the later: the one order of invoice and subscription
statuses that every service mirroring them applies.

Stripe does not order its events, and the same event may come twice. Merging snapshots with
these rules ends in the same state whatever order they arrive in and however often.

Invoices follow Stripe's documented lifecycle (Invoicing, "Status transitions and
finalization"): ``draft`` → ``open`` → ``paid`` | ``void`` | ``uncollectible``, and an
``uncollectible`` invoice can still be paid or voided. Nothing goes back to ``open`` or
``draft``, and ``paid`` and ``void`` are final. So an invoice's status is ordered first by how
far it got, and only then by Stripe's ``created``: a snapshot that says ``open`` after one that
said ``uncollectible`` was taken before it, however late it arrives. Between two snapshots at
the same step, the newer in Stripe's time wins, then the one with more payment attempts
(Stripe's times are seconds, and a failed attempt leaves the invoice ``open``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

INVOICE_STATUS_ORDER = {"draft": 0, "open": 1, "uncollectible": 2, "paid": 3, "void": 3}
"""How far an invoice got: draft → open → (uncollectible →) paid | void."""

SUBSCRIPTION_ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
"""A subscription in one of these has ended for good: no later status replaces it."""

_SUBSCRIPTION_ORDER = {"incomplete": 0, "trialing": 1, "active": 2, "past_due": 3, "unpaid": 4}
"""Of two subscription statuses told in the same second, the one further along is the later
(any other status counts as furthest)."""


@dataclass(frozen=True)
class InvoiceState:
    """An invoice's status as one snapshot told it: the status (None: not told), Stripe's
    ``created`` of the event, and how many payment attempts Stripe had made."""

    status: str | None
    stripe_created: int
    attempt_count: int = 0


def invoice_progress(status: str | None) -> int:
    """How far an invoice with ``status`` got (an untold status counts as ``draft``)."""
    return INVOICE_STATUS_ORDER.get(status or "draft", 0)


def invoice_state_key(state: InvoiceState) -> tuple[int, int, int]:
    """Orders invoice snapshots: furthest status, then newest event, then most attempts."""
    return (invoice_progress(state.status), state.stripe_created, state.attempt_count)


def merge_invoice_state(kept: InvoiceState, told: InvoiceState) -> tuple[InvoiceState, bool]:
    """The invoice's state once ``told`` is applied to ``kept``, and whether ``told`` was the
    later: its status (an untold one keeps the status known) and time when it is, and the
    most payment attempts either way."""
    attempts = max(kept.attempt_count, told.attempt_count)
    if invoice_state_key(told) > invoice_state_key(kept):
        return InvoiceState(told.status or kept.status, told.stripe_created, attempts), True
    return InvoiceState(kept.status, kept.stripe_created, attempts), False


class MirroredInvoice(Protocol):
    """A row that keeps an invoice's status with the ``created`` of the event that told it
    (``seen_at``) and Stripe's payment attempts."""

    status: str
    seen_at: int
    attempt_count: int


def apply_invoice_state(row: MirroredInvoice, told: InvoiceState) -> bool:
    """Merge ``told`` into the row (``merge_invoice_state``); whether it was the later, so
    the rest of its snapshot replaces the row's too."""
    merged, newer = merge_invoice_state(
        InvoiceState(row.status, row.seen_at, row.attempt_count), told
    )
    row.status = merged.status or row.status
    row.seen_at = merged.stripe_created
    row.attempt_count = merged.attempt_count
    return newer


def subscription_status_applies(
    kept: str | None, kept_seen_at: int, status: str, seen_at: int, previous: str | None = None
) -> bool:
    """Whether a subscription's ``status`` told at ``seen_at`` replaces the one kept: never
    after the end; else when newer in Stripe's time, or in the same second when it says it
    follows the kept status (``previous``) or is further along."""
    if kept in SUBSCRIPTION_ENDED_STATUSES:
        return False
    if kept is None or seen_at > kept_seen_at:
        return True
    if seen_at < kept_seen_at:
        return False
    if previous is not None and previous == kept:
        return True
    return _SUBSCRIPTION_ORDER.get(status, 5) > _SUBSCRIPTION_ORDER.get(kept, 5)
