"""Object builders for money movements: intents, charges, fees, refunds, disputes, payouts."""

from __future__ import annotations

from typing import Any

from stripe_emulator.shapes.common import empty_billing_details, empty_list
from stripe_emulator.shapes.connect import PAYOUT_BANK_ACCOUNT, PLATFORM_APPLICATION
from stripe_emulator.store import Obj


def payment_intent_shape(pi_id: str, created: int, amount: int, currency: str) -> Obj:
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "allowed_payment_method_types": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_emulator",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "description": None,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def charge_shape(ch_id: str, created: int, amount: int, currency: str) -> Obj:
    return {
        "id": ch_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": empty_billing_details(),
        "calculated_statement_descriptor": "EMULATOR",
        "captured": False,
        "created": created,
        "currency": currency,
        "customer": None,
        "description": None,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": None,
        "payment_method": None,
        "payment_method_details": None,
        "receipt_email": None,
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        "refunds": empty_list(f"/v1/charges/{ch_id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "pending",
        "transfer_data": None,
        "transfer_group": None,
    }


def balance_transaction_shape(
    txn_id: str,
    created: int,
    *,
    amount: int,
    currency: str,
    type_: str,
    source: str | None,
    fee_details: list[dict[str, Any]],
    available_on: int,
    description: str | None = None,
    reporting_category: str | None = None,
) -> Obj:
    fee = sum(detail["amount"] for detail in fee_details)
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category or type_,
        "source": source,
        "status": "available" if available_on <= created else "pending",
        "type": type_,
    }


def fee_detail(type_: str, amount: int, currency: str, description: str) -> dict[str, Any]:
    return {
        "amount": amount,
        "application": None,
        "currency": currency,
        "description": description,
        "type": type_,
    }


def application_fee_shape(
    fee_id: str, created: int, account: str, amount: int, currency: str, charge: str
) -> Obj:
    return {
        "id": fee_id,
        "object": "application_fee",
        "account": account,
        "amount": amount,
        "amount_refunded": 0,
        "application": PLATFORM_APPLICATION,
        "balance_transaction": None,
        "charge": charge,
        "created": created,
        "currency": currency,
        "fee_source": {"charge": charge, "type": "charge"},
        "livemode": False,
        "originating_transaction": None,
        "refunded": False,
        "refunds": empty_list(f"/v1/application_fees/{fee_id}/refunds"),
    }


def fee_refund_shape(fr_id: str, created: int, amount: int, currency: str, fee: str) -> Obj:
    return {
        "id": fr_id,
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": None,
        "created": created,
        "currency": currency,
        "fee": fee,
        "metadata": {},
    }


def refund_shape(re_id: str, created: int, amount: int, currency: str, charge: str) -> Obj:
    return {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": charge,
        "created": created,
        "currency": currency,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": {},
        "payment_intent": None,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def dispute_shape(dp_id: str, created: int, amount: int, currency: str, charge: str) -> Obj:
    evidence_keys = [
        "access_activity_log", "billing_address", "cancellation_policy",
        "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
        "customer_email_address", "customer_name", "customer_purchase_ip",
        "customer_signature", "duplicate_charge_documentation",
        "duplicate_charge_explanation", "duplicate_charge_id", "product_description",
        "receipt", "refund_policy", "refund_policy_disclosure", "refund_refusal_explanation",
        "service_date", "service_documentation", "shipping_address", "shipping_carrier",
        "shipping_date", "shipping_documentation", "shipping_tracking_number",
        "uncategorized_file", "uncategorized_text",
    ]  # fmt: skip
    evidence: dict[str, Any] = dict.fromkeys(evidence_keys)
    evidence["enhanced_evidence"] = {}
    return {
        "id": dp_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge,
        "created": created,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": created + 7 * 86400,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": None,
        "payment_method_details": {
            "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
            "type": "card",
        },
        "reason": "fraudulent",
        "status": "needs_response",
    }


def payout_shape(po_id: str, created: int, amount: int, currency: str, automatic: bool) -> Obj:
    return {
        "id": po_id,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": created + 86400,
        "automatic": automatic,
        "balance_transaction": None,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": PAYOUT_BANK_ACCOUNT,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "not_applicable" if not automatic else "in_progress",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": "pending",
        "trace_id": None,
        "type": "bank_account",
    }
