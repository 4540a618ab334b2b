"""The pure rules: the platform fee, which Stripe state is newer, what a change announces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from billing_contracts.invoicing_invoices import InvoiceDispute, InvoiceSnapshot
from invoicing.rules import (
    application_fee_cents,
    changes,
    dispute_state_key,
    is_past_due,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("subtotal", "fee"),
    [
        (50, 0),  # 0.25 → 0
        (100, 1),  # 0.5 → 1 (half-up, not banker's)
        (300, 2),  # 1.5 → 2
        (500, 3),  # 2.5 → 3
        (299, 1),  # 1.495 → 1
        (250_000, 1250),
        (123_456, 617),  # 617.28
        (99_999_999, 500_000),  # 499,999.995 → 500,000
    ],
)
def test_the_platform_fee_is_half_a_percent_rounded_half_up(subtotal: int, fee: int) -> None:
    assert application_fee_cents(subtotal) == fee


def test_a_decided_dispute_stays_decided() -> None:
    assert dispute_state_key("under_review", 500) < dispute_state_key("won", 400)
    assert dispute_state_key("needs_response", 100) < dispute_state_key("under_review", 100)
    assert dispute_state_key("needs_response", 100) > dispute_state_key(None, 0)


@pytest.mark.parametrize(
    ("status", "attempts", "overdue", "subscription", "expected"),
    [
        ("open", 0, False, "active", False),
        ("open", 1, False, None, True),
        ("open", 0, True, None, True),
        ("open", 0, False, "past_due", True),
        ("paid", 1, False, "past_due", False),
        ("void", 0, True, None, False),
    ],
)
def test_past_due(
    status: str, attempts: int, overdue: bool, subscription: str | None, expected: bool
) -> None:
    assert (
        is_past_due(
            status=status,
            attempt_count=attempts,
            overdue=overdue,
            subscription_status=subscription,
        )
        is expected
    )


def _snapshot(**overrides: Any) -> InvoiceSnapshot:
    values: dict[str, Any] = {
        "invoice_id": "i-1",
        "stripe_invoice_id": "in_1",
        "stripe_account_id": "acct_1",
        "workspace_id": "ws-1",
        "kind": "one_off",
        "status": "open",
        "currency": "usd",
        "amount_due_cents": 1000,
        "amount_paid_cents": 0,
        "amount_refunded_cents": 0,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "revision": 0,
    }
    values.update(overrides)
    return InvoiceSnapshot.model_validate(values)


def _announced(snapshot: InvoiceSnapshot) -> dict[str, Any]:
    return snapshot.model_dump(mode="json", exclude={"revision"})


def _types(before: InvoiceSnapshot | None, after: InvoiceSnapshot) -> list[str]:
    held = _announced(before) if before else None
    return [event.model_fields["type"].default for event in changes(held, after)]


def test_what_a_change_announces() -> None:
    opened = _snapshot()
    assert _types(None, opened) == ["invoice.mirrored", "invoice.issued"]
    assert _types(opened, opened) == []
    failed = _snapshot(attempt_count=1, past_due=True)
    assert _types(opened, failed) == ["invoice.payment_failed"]
    paid = _snapshot(status="paid", amount_paid_cents=1000, attempt_count=1)
    assert _types(failed, paid) == ["invoice.paid"]
    refunded = _snapshot(status="paid", amount_paid_cents=1000, amount_refunded_cents=400)
    assert _types(paid, refunded) == ["invoice.refunded"]
    dispute = InvoiceDispute(dispute_id="dp_1", status="needs_response", amount_cents=1000)
    disputed = _snapshot(status="paid", dispute=dispute)
    assert _types(paid, disputed) == ["invoice.disputed"]
    review = dispute.model_copy(update={"status": "under_review"})
    reviewing = _snapshot(status="paid", dispute=review)
    assert _types(disputed, reviewing) == ["invoice.dispute_updated"]
    lost = _snapshot(status="paid", dispute=dispute.model_copy(update={"status": "lost"}))
    assert _types(reviewing, lost) == ["invoice.dispute_closed"]
    assert _types(opened, _snapshot(hosted_invoice_url="https://x")) == ["invoice.updated"]
