"""``billing.payments.v1`` — money moving in: payment intents, charges with their balance
transaction figures, refunds, disputes and application fees.

Published by webhook-ingest; key = the Stripe object id (payment intent, charge, refund,
dispute or application fee).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution, StripeObjectFacts
from billing_contracts.envelope import Event
from billing_contracts.topics import Topic


class StripePaymentIntentSnapshot(StripeObjectFacts):
    payment_intent_id: str
    status: str
    amount: int
    amount_received: int = 0
    currency: str
    customer_id: str | None = None
    latest_charge_id: str | None = None
    application_fee_amount: int | None = None
    payment_method_types: list[str] = []
    last_payment_error_code: str | None = None
    last_payment_error_decline_code: str | None = None
    last_payment_error_message: str | None = None
    figures: BalanceFigures | None = None
    """The latest charge's balance transaction, on ``payment_intent.succeeded``."""
    attribution: PaymentAttribution | None = None
    """Which invoice the payment paid and whose it is (null on events published before
    webhook-ingest looked it up)."""


class StripeChargeSnapshot(StripeObjectFacts):
    charge_id: str
    status: str
    paid: bool = False
    captured: bool = False
    refunded: bool = False
    """True only when fully refunded."""
    disputed: bool = False
    amount: int
    amount_captured: int = 0
    amount_refunded: int = 0
    currency: str
    customer_id: str | None = None
    payment_intent_id: str | None = None
    payment_method_id: str | None = None
    application_fee_id: str | None = None
    application_fee_amount: int | None = None
    balance_transaction_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    outcome_type: str | None = None
    created: int | None = None
    figures: BalanceFigures | None = None
    attribution: PaymentAttribution | None = None
    """Which invoice the payment paid and whose it is (null on events published before
    webhook-ingest looked it up)."""


class StripeRefundSnapshot(StripeObjectFacts):
    refund_id: str
    status: str | None = None
    amount: int
    currency: str
    charge_id: str | None = None
    payment_intent_id: str | None = None
    reason: str | None = None
    balance_transaction_id: str | None = None
    created: int | None = None
    figures: BalanceFigures | None = None
    failure_balance_transaction_id: str | None = None
    """A failed refund's ``refund_failure`` balance transaction: the amount given back."""
    failure_reason: str | None = None
    failure_figures: BalanceFigures | None = None
    """The figures of ``failure_balance_transaction_id`` (positive: money back), on a failed
    refund."""
    attribution: PaymentAttribution | None = None
    """Which invoice the payment paid and whose it is (null on events published before
    webhook-ingest looked it up)."""


class StripeDisputeSnapshot(StripeObjectFacts):
    dispute_id: str
    status: str
    amount: int
    currency: str
    reason: str | None = None
    charge_id: str | None = None
    payment_intent_id: str | None = None
    is_charge_refundable: bool | None = None
    evidence_due_by: int | None = None
    funds_withdrawn: int = 0
    """Cents taken from the balance by the dispute's balance transactions (positive)."""
    funds_reinstated: int = 0
    dispute_fees: int = 0
    created: int | None = None
    balance_transactions: list[BalanceFigures] | None = None
    """The dispute's balance transactions (withdrawal, reinstatement), each with its own
    figures and ``created``; null on events published before they were carried."""
    attribution: PaymentAttribution | None = None
    """Which invoice the payment paid and whose it is (null on events published before
    webhook-ingest looked it up)."""


class StripeApplicationFeeSnapshot(StripeObjectFacts):
    application_fee_id: str
    amount: int
    amount_refunded: int = 0
    refunded: bool = False
    currency: str
    charge_id: str | None = None
    paying_account_id: str | None = None
    """The connected account the fee was taken from."""
    balance_transaction_id: str | None = None
    created: int | None = None
    refund_balance_transactions: list[BalanceFigures] | None = None
    """On ``application_fee.refunded``: the paying account's balance transactions of every
    refund of this fee (what the agency got back), read from Stripe by webhook-ingest; null
    on other events and on events published before they were carried."""
    attribution: PaymentAttribution | None = None
    """Which invoice the payment paid and whose it is (null on events published before
    webhook-ingest looked it up)."""


class _PaymentIntentEvent(Event):
    payload: StripePaymentIntentSnapshot
    aggregate_field: ClassVar[str] = "payment_intent_id"


class _ChargeEvent(Event):
    payload: StripeChargeSnapshot
    aggregate_field: ClassVar[str] = "charge_id"


class _RefundEvent(Event):
    payload: StripeRefundSnapshot
    aggregate_field: ClassVar[str] = "refund_id"


class _DisputeEvent(Event):
    payload: StripeDisputeSnapshot
    aggregate_field: ClassVar[str] = "dispute_id"


class _ApplicationFeeEvent(Event):
    payload: StripeApplicationFeeSnapshot
    aggregate_field: ClassVar[str] = "application_fee_id"


class StripePaymentIntentCreated(_PaymentIntentEvent):
    """``payment_intent.created``."""

    type: Literal["payment_intent.created"] = "payment_intent.created"


class StripePaymentIntentSucceeded(_PaymentIntentEvent):
    """``payment_intent.succeeded``."""

    type: Literal["payment_intent.succeeded"] = "payment_intent.succeeded"


class StripePaymentIntentPaymentFailed(_PaymentIntentEvent):
    """``payment_intent.payment_failed`` (a card decline, insufficient balance...)."""

    type: Literal["payment_intent.payment_failed"] = "payment_intent.payment_failed"


class StripePaymentIntentRequiresAction(_PaymentIntentEvent):
    """``payment_intent.requires_action``."""

    type: Literal["payment_intent.requires_action"] = "payment_intent.requires_action"


class StripePaymentIntentProcessing(_PaymentIntentEvent):
    """``payment_intent.processing``."""

    type: Literal["payment_intent.processing"] = "payment_intent.processing"


class StripePaymentIntentCanceled(_PaymentIntentEvent):
    """``payment_intent.canceled``."""

    type: Literal["payment_intent.canceled"] = "payment_intent.canceled"


class StripeChargeSucceeded(_ChargeEvent):
    """``charge.succeeded``: gross, Stripe fee, application fee and net in ``figures``."""

    type: Literal["charge.succeeded"] = "charge.succeeded"


class StripeChargeFailed(_ChargeEvent):
    """``charge.failed``."""

    type: Literal["charge.failed"] = "charge.failed"


class StripeChargeCaptured(_ChargeEvent):
    """``charge.captured``."""

    type: Literal["charge.captured"] = "charge.captured"


class StripeChargeUpdated(_ChargeEvent):
    """``charge.updated``."""

    type: Literal["charge.updated"] = "charge.updated"


class StripeChargeRefunded(_ChargeEvent):
    """``charge.refunded``: ``amount_refunded`` is the running total."""

    type: Literal["charge.refunded"] = "charge.refunded"


class StripeRefundCreated(_RefundEvent):
    """``refund.created``."""

    type: Literal["refund.created"] = "refund.created"


class StripeRefundUpdated(_RefundEvent):
    """``refund.updated``."""

    type: Literal["refund.updated"] = "refund.updated"


class StripeRefundFailed(_RefundEvent):
    """``refund.failed``."""

    type: Literal["refund.failed"] = "refund.failed"


class StripeChargeRefundUpdated(_RefundEvent):
    """``charge.refund.updated``."""

    type: Literal["charge.refund.updated"] = "charge.refund.updated"


class StripeDisputeCreated(_DisputeEvent):
    """``charge.dispute.created``."""

    type: Literal["charge.dispute.created"] = "charge.dispute.created"


class StripeDisputeUpdated(_DisputeEvent):
    """``charge.dispute.updated``."""

    type: Literal["charge.dispute.updated"] = "charge.dispute.updated"


class StripeDisputeClosed(_DisputeEvent):
    """``charge.dispute.closed`` (``won``, ``lost`` or ``warning_closed``)."""

    type: Literal["charge.dispute.closed"] = "charge.dispute.closed"


class StripeDisputeFundsWithdrawn(_DisputeEvent):
    """``charge.dispute.funds_withdrawn``."""

    type: Literal["charge.dispute.funds_withdrawn"] = "charge.dispute.funds_withdrawn"


class StripeDisputeFundsReinstated(_DisputeEvent):
    """``charge.dispute.funds_reinstated``."""

    type: Literal["charge.dispute.funds_reinstated"] = "charge.dispute.funds_reinstated"


class StripeApplicationFeeCreated(_ApplicationFeeEvent):
    """``application_fee.created``: the platform's 0.5 % fee on a charge."""

    type: Literal["application_fee.created"] = "application_fee.created"


class StripeApplicationFeeRefunded(_ApplicationFeeEvent):
    """``application_fee.refunded``."""

    type: Literal["application_fee.refunded"] = "application_fee.refunded"


STRIPE_PAYMENTS = Topic(
    name="billing.payments.v1",
    description="Payment intents, charges (with balance transaction figures), refunds, "
    "disputes and application fees, normalized from webhooks. Key: Stripe object id.",
    events=(
        StripePaymentIntentCreated,
        StripePaymentIntentSucceeded,
        StripePaymentIntentPaymentFailed,
        StripePaymentIntentRequiresAction,
        StripePaymentIntentProcessing,
        StripePaymentIntentCanceled,
        StripeChargeSucceeded,
        StripeChargeFailed,
        StripeChargeCaptured,
        StripeChargeUpdated,
        StripeChargeRefunded,
        StripeRefundCreated,
        StripeRefundUpdated,
        StripeRefundFailed,
        StripeChargeRefundUpdated,
        StripeDisputeCreated,
        StripeDisputeUpdated,
        StripeDisputeClosed,
        StripeDisputeFundsWithdrawn,
        StripeDisputeFundsReinstated,
        StripeApplicationFeeCreated,
        StripeApplicationFeeRefunded,
    ),
)
