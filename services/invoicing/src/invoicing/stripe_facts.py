"""Stripe objects read from the API, as the same snapshots webhook events carry, so a gap
filled from Stripe merges through the same rules as an event."""

from __future__ import annotations

from typing import Any

from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.billing_subscriptions import (
    StripeSubscriptionItem,
    StripeSubscriptionSnapshot,
)


def stripe_metadata(obj: dict[str, Any]) -> dict[str, str]:
    """An object's metadata; a subscription invoice also inherits its subscription's."""
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    inherited = {str(k): str(v) for k, v in (parent.get("metadata") or {}).items()}
    return {**inherited, **{str(k): str(v) for k, v in (obj.get("metadata") or {}).items()}}


def _subscription_of(invoice: dict[str, Any]) -> str | None:
    parent = (invoice.get("parent") or {}).get("subscription_details") or {}
    found = parent.get("subscription") or invoice.get("subscription")
    return str(found) if found else None


def invoice_snapshot_from_stripe(
    invoice: dict[str, Any], *, account: str, seen_at: int
) -> StripeInvoiceSnapshot:
    """``seen_at``: the ``created`` of the event that made us ask; Stripe's answer is at
    least that new."""
    transitions = invoice.get("status_transitions") or {}
    error = invoice.get("last_finalization_error") or {}
    return StripeInvoiceSnapshot(
        stripe_event_id=f"api:{invoice['id']}",
        stripe_created=seen_at,
        stripe_account_id=account,
        metadata=stripe_metadata(invoice),
        invoice_id=invoice["id"],
        status=invoice.get("status"),
        customer_id=invoice.get("customer"),
        subscription_id=_subscription_of(invoice),
        description=invoice.get("description"),
        currency=invoice.get("currency") or "usd",
        amount_due=int(invoice.get("amount_due") or 0),
        amount_paid=int(invoice.get("amount_paid") or 0),
        amount_remaining=int(invoice.get("amount_remaining") or 0),
        subtotal=invoice.get("subtotal"),
        hosted_invoice_url=invoice.get("hosted_invoice_url"),
        attempt_count=invoice.get("attempt_count"),
        created=invoice.get("created"),
        paid_at=transitions.get("paid_at"),
        last_payment_error_message=error.get("message"),
    )


def subscription_snapshot_from_stripe(
    subscription: dict[str, Any], *, account: str, seen_at: int
) -> StripeSubscriptionSnapshot:
    items = [
        StripeSubscriptionItem(
            item_id=item["id"],
            price_id=(item.get("price") or {}).get("id"),
            product_id=(item.get("price") or {}).get("product"),
            quantity=item.get("quantity"),
            unit_amount=(item.get("price") or {}).get("unit_amount"),
            current_period_end=item.get("current_period_end"),
        )
        for item in (subscription.get("items") or {}).get("data") or ()
    ]
    return StripeSubscriptionSnapshot(
        stripe_event_id=f"api:{subscription['id']}",
        stripe_created=seen_at,
        stripe_account_id=account,
        metadata=stripe_metadata(subscription),
        subscription_id=subscription["id"],
        customer_id=subscription.get("customer"),
        status=subscription["status"],
        currency=subscription.get("currency"),
        application_fee_percent=subscription.get("application_fee_percent"),
        current_period_end=items[0].current_period_end if items else None,
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
        items=items,
    )
