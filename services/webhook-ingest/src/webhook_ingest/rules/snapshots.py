"""Snapshots of Stripe objects: the fields of each object kind that consumers need, as plain
dicts ready for the contract payload models. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from billing_contracts.billing_accounts import (
    StripeAccountDeauthorizedSnapshot,
    StripeAccountSnapshot,
)
from billing_contracts.billing_balances import StripeBalanceSnapshot, StripePayoutSnapshot
from billing_contracts.billing_customers import StripeCustomerSnapshot
from billing_contracts.billing_invoices import StripeInvoicePaymentSnapshot, StripeInvoiceSnapshot
from billing_contracts.billing_payments import (
    StripeApplicationFeeSnapshot,
    StripeChargeSnapshot,
    StripeDisputeSnapshot,
    StripePaymentIntentSnapshot,
    StripeRefundSnapshot,
)
from billing_contracts.billing_products import StripePriceSnapshot, StripeProductSnapshot
from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_contracts.envelope import Payload

StripeObject = Mapping[str, Any]


def id_of(value: Any) -> str | None:
    """An id field that may be expanded into its object."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def metadata_of(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def figures_from_balance_transaction(txn: StripeObject) -> BalanceFigures:
    fees = {"stripe_fee": 0, "application_fee": 0}
    other = 0
    for detail in txn.get("fee_details") or ():
        kind, amount = detail.get("type"), int(detail.get("amount") or 0)
        if kind in fees:
            fees[kind] += amount
        else:
            other += amount
    if not txn.get("fee_details") and txn.get("fee"):
        fees["stripe_fee"] = int(txn["fee"])
    return BalanceFigures(
        balance_transaction_id=str(txn["id"]),
        currency=str(txn.get("currency") or ""),
        gross=int(txn.get("amount") or 0),
        stripe_fee=fees["stripe_fee"],
        application_fee=fees["application_fee"],
        other_fees=other,
        net=int(txn.get("net") or 0),
        available_on=int_or_none(txn.get("available_on")),
        status=txn.get("status"),
        created=int_or_none(txn.get("created")),
        type=txn.get("type"),
        reporting_category=txn.get("reporting_category"),
        source=id_of(txn.get("source")),
    )


def _deauthorized(_: StripeObject, event: StripeObject) -> dict[str, Any]:
    """``data.object`` is the platform's application; the account is the event's."""
    return {"account_id": event.get("account")}


def _account(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    schedule = dig(obj, "settings", "payouts", "schedule")
    return {
        "account_id": obj["id"],
        "charges_enabled": bool(obj.get("charges_enabled")),
        "payouts_enabled": bool(obj.get("payouts_enabled")),
        "details_submitted": bool(obj.get("details_submitted")),
        "payout_schedule": dict(schedule) if isinstance(schedule, Mapping) else None,
    }


def _product(obj: StripeObject, event: StripeObject) -> dict[str, Any]:
    return {
        "product_id": obj["id"],
        "name": obj.get("name"),
        "description": obj.get("description"),
        "active": bool(obj.get("active", True)),
        "default_price_id": id_of(obj.get("default_price")),
        "deleted": bool(obj.get("deleted")) or event["type"] == "product.deleted",
    }


def _price(obj: StripeObject, event: StripeObject) -> dict[str, Any]:
    return {
        "price_id": obj["id"],
        "product_id": id_of(obj.get("product")),
        "active": bool(obj.get("active", True)),
        "currency": obj.get("currency"),
        "unit_amount": int_or_none(obj.get("unit_amount")),
        "recurring_interval": dig(obj, "recurring", "interval"),
        "recurring_interval_count": int_or_none(dig(obj, "recurring", "interval_count")),
        "deleted": bool(obj.get("deleted")) or event["type"] == "price.deleted",
    }


def _customer(obj: StripeObject, event: StripeObject) -> dict[str, Any]:
    return {
        "customer_id": obj["id"],
        "email": obj.get("email"),
        "name": obj.get("name"),
        "delinquent": obj.get("delinquent"),
        "default_payment_method_id": id_of(dig(obj, "invoice_settings", "default_payment_method")),
        "deleted": bool(obj.get("deleted")) or event["type"] == "customer.deleted",
    }


def _subscription(obj: StripeObject, event: StripeObject) -> dict[str, Any]:
    items = []
    for item in dig(obj, "items", "data") or ():
        price = item.get("price") or {}
        items.append(
            {
                "item_id": item.get("id"),
                "price_id": id_of(price),
                "product_id": id_of(price.get("product")) if isinstance(price, Mapping) else None,
                "quantity": int_or_none(item.get("quantity")),
                "unit_amount": int_or_none(price.get("unit_amount"))
                if isinstance(price, Mapping)
                else None,
                "current_period_start": int_or_none(item.get("current_period_start")),
                "current_period_end": int_or_none(item.get("current_period_end")),
                "interval": dig(price, "recurring", "interval"),
                "interval_count": int_or_none(dig(price, "recurring", "interval_count")),
            }
        )
    first: Mapping[str, Any] = items[0] if items else {}
    previous = dig(event, "data", "previous_attributes", "status")
    return {
        "subscription_id": obj["id"],
        "customer_id": id_of(obj.get("customer")),
        "status": obj.get("status") or "unknown",
        "currency": obj.get("currency"),
        "application_fee_percent": obj.get("application_fee_percent"),
        "collection_method": obj.get("collection_method"),
        "latest_invoice_id": id_of(obj.get("latest_invoice")),
        "default_payment_method_id": id_of(obj.get("default_payment_method")),
        "current_period_start": int_or_none(obj.get("current_period_start"))
        or first.get("current_period_start"),
        "current_period_end": int_or_none(obj.get("current_period_end"))
        or first.get("current_period_end"),
        "start_date": int_or_none(obj.get("start_date")),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "cancel_at": int_or_none(obj.get("cancel_at")),
        "canceled_at": int_or_none(obj.get("canceled_at")),
        "ended_at": int_or_none(obj.get("ended_at")),
        "cancellation_reason": dig(obj, "cancellation_details", "reason"),
        "items": items,
        "previous_status": previous if isinstance(previous, str) else None,
    }


def _invoice(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    transitions = obj.get("status_transitions") or {}
    subscription = id_of(dig(obj, "parent", "subscription_details", "subscription"))
    return {
        "invoice_id": obj["id"],
        "status": obj.get("status"),
        "number": obj.get("number"),
        "customer_id": id_of(obj.get("customer")),
        "customer_email": obj.get("customer_email"),
        "customer_account": obj.get("customer_account"),
        "subscription_id": subscription or id_of(obj.get("subscription")),
        "billing_reason": obj.get("billing_reason"),
        "collection_method": obj.get("collection_method"),
        "description": obj.get("description"),
        "currency": obj.get("currency") or "",
        "amount_due": int(obj.get("amount_due") or 0),
        "amount_paid": int(obj.get("amount_paid") or 0),
        "amount_remaining": int(obj.get("amount_remaining") or 0),
        "subtotal": int_or_none(obj.get("subtotal")),
        "total": int_or_none(obj.get("total")),
        "hosted_invoice_url": obj.get("hosted_invoice_url"),
        "invoice_pdf": obj.get("invoice_pdf"),
        "period_start": int_or_none(obj.get("period_start")),
        "period_end": int_or_none(obj.get("period_end")),
        "due_date": int_or_none(obj.get("due_date")),
        "attempt_count": int_or_none(obj.get("attempt_count")),
        "next_payment_attempt": int_or_none(obj.get("next_payment_attempt")),
        "created": int_or_none(obj.get("created")),
        "finalized_at": int_or_none(transitions.get("finalized_at")),
        "paid_at": int_or_none(transitions.get("paid_at")),
        "voided_at": int_or_none(transitions.get("voided_at")),
        "marked_uncollectible_at": int_or_none(transitions.get("marked_uncollectible_at")),
        "last_payment_error_code": dig(obj, "last_finalization_error", "code"),
        "last_payment_error_message": dig(obj, "last_finalization_error", "message"),
    }


def _invoice_payment(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    payment = obj.get("payment") or {}
    return {
        "invoice_payment_id": obj["id"],
        "invoice_id": id_of(obj.get("invoice")) or "",
        "status": obj.get("status"),
        "currency": obj.get("currency"),
        "amount_paid": int_or_none(obj.get("amount_paid")),
        "amount_requested": int_or_none(obj.get("amount_requested")),
        "payment_type": payment.get("type"),
        "payment_intent_id": id_of(payment.get("payment_intent")),
        "charge_id": id_of(payment.get("charge")),
        "paid_at": int_or_none(dig(obj, "status_transitions", "paid_at")),
    }


def _payment_intent(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    error = obj.get("last_payment_error") or {}
    return {
        "payment_intent_id": obj["id"],
        "status": obj.get("status") or "unknown",
        "amount": int(obj.get("amount") or 0),
        "amount_received": int(obj.get("amount_received") or 0),
        "currency": obj.get("currency") or "",
        "customer_id": id_of(obj.get("customer")),
        "latest_charge_id": id_of(obj.get("latest_charge")),
        "application_fee_amount": int_or_none(obj.get("application_fee_amount")),
        "payment_method_types": list(obj.get("payment_method_types") or ()),
        "last_payment_error_code": error.get("code"),
        "last_payment_error_decline_code": error.get("decline_code"),
        "last_payment_error_message": error.get("message"),
    }


def _charge(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    return {
        "charge_id": obj["id"],
        "status": obj.get("status") or "unknown",
        "paid": bool(obj.get("paid")),
        "captured": bool(obj.get("captured")),
        "refunded": bool(obj.get("refunded")),
        "disputed": bool(obj.get("disputed")),
        "amount": int(obj.get("amount") or 0),
        "amount_captured": int(obj.get("amount_captured") or 0),
        "amount_refunded": int(obj.get("amount_refunded") or 0),
        "currency": obj.get("currency") or "",
        "customer_id": id_of(obj.get("customer")),
        "payment_intent_id": id_of(obj.get("payment_intent")),
        "payment_method_id": id_of(obj.get("payment_method")),
        "application_fee_id": id_of(obj.get("application_fee")),
        "application_fee_amount": int_or_none(obj.get("application_fee_amount")),
        "balance_transaction_id": id_of(obj.get("balance_transaction")),
        "failure_code": obj.get("failure_code"),
        "failure_message": obj.get("failure_message"),
        "outcome_type": dig(obj, "outcome", "type"),
        "created": int_or_none(obj.get("created")),
    }


def _refund(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    return {
        "refund_id": obj["id"],
        "status": obj.get("status"),
        "amount": int(obj.get("amount") or 0),
        "currency": obj.get("currency") or "",
        "charge_id": id_of(obj.get("charge")),
        "payment_intent_id": id_of(obj.get("payment_intent")),
        "reason": obj.get("reason"),
        "balance_transaction_id": id_of(obj.get("balance_transaction")),
        "created": int_or_none(obj.get("created")),
        "failure_balance_transaction_id": id_of(obj.get("failure_balance_transaction")),
        "failure_reason": obj.get("failure_reason"),
    }


def _dispute(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    withdrawn = reinstated = fees = 0
    transactions = obj.get("balance_transactions") or ()
    for txn in transactions:
        if not isinstance(txn, Mapping):
            continue
        amount = int(txn.get("amount") or 0)
        withdrawn += -amount if amount < 0 else 0
        reinstated += amount if amount > 0 else 0
        fees += int(txn.get("fee") or 0)
    return {
        "dispute_id": obj["id"],
        "status": obj.get("status") or "unknown",
        "amount": int(obj.get("amount") or 0),
        "currency": obj.get("currency") or "",
        "reason": obj.get("reason"),
        "charge_id": id_of(obj.get("charge")),
        "payment_intent_id": id_of(obj.get("payment_intent")),
        "is_charge_refundable": obj.get("is_charge_refundable"),
        "evidence_due_by": int_or_none(dig(obj, "evidence_details", "due_by")),
        "funds_withdrawn": withdrawn,
        "funds_reinstated": reinstated,
        "dispute_fees": fees,
        "created": int_or_none(obj.get("created")),
        # Stripe always expands a dispute's balance transactions; ids alone are not figures.
        "balance_transactions": [figures_from_balance_transaction(t) for t in transactions]
        if all(isinstance(t, Mapping) for t in transactions)
        else None,
    }


def _application_fee(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    return {
        "application_fee_id": obj["id"],
        "amount": int(obj.get("amount") or 0),
        "amount_refunded": int(obj.get("amount_refunded") or 0),
        "refunded": bool(obj.get("refunded")),
        "currency": obj.get("currency") or "",
        "charge_id": id_of(obj.get("charge")),
        "paying_account_id": id_of(obj.get("account")),
        "balance_transaction_id": id_of(obj.get("balance_transaction")),
        "created": int_or_none(obj.get("created")),
    }


def _amounts(value: Any) -> list[dict[str, Any]]:
    return [
        {"amount": int(entry.get("amount") or 0), "currency": str(entry.get("currency") or "")}
        for entry in value or ()
        if isinstance(entry, Mapping)
    ]


def _balance(obj: StripeObject, event: StripeObject) -> dict[str, Any]:
    return {
        "balance_owner": event.get("account") or "platform",
        "available": _amounts(obj.get("available")),
        "pending": _amounts(obj.get("pending")),
    }


def _payout(obj: StripeObject, _: StripeObject) -> dict[str, Any]:
    return {
        "payout_id": obj["id"],
        "status": obj.get("status") or "unknown",
        "amount": int(obj.get("amount") or 0),
        "currency": obj.get("currency") or "",
        "arrival_date": int_or_none(obj.get("arrival_date")),
        "automatic": obj.get("automatic"),
        "method": obj.get("method"),
        "failure_code": obj.get("failure_code"),
        "failure_message": obj.get("failure_message"),
        "balance_transaction_id": id_of(obj.get("balance_transaction")),
        "created": int_or_none(obj.get("created")),
    }


Snapshot = Callable[[StripeObject, StripeObject], dict[str, Any]]

SNAPSHOTS: dict[type[Payload], Snapshot] = {
    StripeAccountSnapshot: _account,
    StripeAccountDeauthorizedSnapshot: _deauthorized,
    StripeProductSnapshot: _product,
    StripePriceSnapshot: _price,
    StripeCustomerSnapshot: _customer,
    StripeSubscriptionSnapshot: _subscription,
    StripeInvoiceSnapshot: _invoice,
    StripeInvoicePaymentSnapshot: _invoice_payment,
    StripePaymentIntentSnapshot: _payment_intent,
    StripeChargeSnapshot: _charge,
    StripeRefundSnapshot: _refund,
    StripeDisputeSnapshot: _dispute,
    StripeApplicationFeeSnapshot: _application_fee,
    StripeBalanceSnapshot: _balance,
    StripePayoutSnapshot: _payout,
}
