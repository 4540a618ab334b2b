"""Moving money: fees, balance transactions, charging a PaymentIntent, application fees."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.rules.payment_methods import decline_error, test_card_of
from stripe_emulator.shapes.connect import PLATFORM_APPLICATION
from stripe_emulator.shapes.money import (
    application_fee_shape,
    balance_transaction_shape,
    charge_shape,
    dispute_shape,
    fee_detail,
    payment_intent_shape,
)
from stripe_emulator.store import Obj, Store, new_id

DAY = 86400
DISPUTE_FEE = 1500


def stripe_fee(amount: int) -> int:
    """US card pricing: 2.9 % + 30¢, the percentage rounded half-up to the cent."""
    return int((Decimal(amount) * Decimal("0.029")).quantize(Decimal(1), ROUND_HALF_UP)) + 30


def percent_of(amount: int, percent: Decimal) -> int:
    return int((Decimal(amount) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP))


def available_on(store: Store, account: str) -> int:
    acct = store.objects.get(account) or {}
    schedule = acct.get("settings", {}).get("payouts", {}).get("schedule", {})
    delay = int(schedule.get("delay_days", 2))
    now = store.now()
    return now - now % DAY + delay * DAY


def add_balance_transaction(
    store: Store,
    account: str,
    *,
    amount: int,
    currency: str,
    type_: str,
    source: str | None,
    fee_details: list[dict[str, object]] | None = None,
    immediately: bool = False,
    description: str | None = None,
    reporting_category: str | None = None,
) -> Obj:
    now = store.now()
    txn = balance_transaction_shape(
        new_id("txn"),
        now,
        amount=amount,
        currency=currency,
        type_=type_,
        source=source,
        fee_details=list(fee_details or []),
        available_on=now if immediately else available_on(store, account),
        description=description,
        reporting_category=reporting_category,
    )
    return store.add(txn, account)


def available_balance(store: Store, account: str, currency: str) -> int:
    total = 0
    for txn_id in store.ids(account, "balance_transaction"):
        txn = store.objects[txn_id]
        if txn["currency"] == currency and txn["status"] == "available":
            total += txn["net"]
    return total


@dataclass
class Outcome:
    charge: Obj | None
    error: StripeError | None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def require_charges_enabled(ctx: Ctx) -> None:
    if ctx.connected and not ctx.store.objects[ctx.account]["charges_enabled"]:
        raise StripeError(
            "Your account cannot currently make live charges: the connected account has not "
            "completed onboarding (charges_enabled is false).",
            code="account_invalid",
        )


def new_payment_intent(
    ctx: Ctx, amount: int, currency: str, customer: str | None, application_fee: int | None
) -> Obj:
    if application_fee and not ctx.connected:
        raise StripeError(
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
            "direct payment (using an OAuth key or Stripe-Account header) or destination "
            "payment (using `transfer_data[destination]`).",
            param="application_fee_amount",
        )
    pi = payment_intent_shape(new_id("pi"), ctx.now, amount, currency)
    pi["customer"] = customer
    pi["application_fee_amount"] = application_fee
    ctx.store.add(pi, ctx.account)
    return pi


def charge_intent(ctx: Ctx, pi: Obj, pm: Obj) -> Outcome:
    """Attempt the payment of `pi` with `pm`; updates the intent and emits Stripe's events."""
    store = ctx.store
    pi["payment_method"] = pm["id"]
    if pm["type"] == "stripe_balance":
        return _charge_from_balance(ctx, pi, pm)
    charge = _new_charge(ctx, pi, pm)
    card = test_card_of(ctx, pm)
    if card is not None and card.decline_code:
        error = decline_error(card, {"charge": charge["id"], "payment_method": pm})
        charge.update(status="failed", failure_code="card_declined")
        charge["failure_message"] = error.message
        charge["outcome"] = _outcome("issuer_declined", card.decline_code)
        pi["status"] = "requires_payment_method"
        pi["latest_charge"] = charge["id"]
        pi["last_payment_error"] = {
            "charge": charge["id"],
            "code": "card_declined",
            "decline_code": card.decline_code,
            "message": error.message,
            "payment_method": pm,
            "type": "card_error",
        }
        error.extra["payment_intent"] = pi
        store.emit("charge.failed", charge, ctx.account)
        store.emit("payment_intent.payment_failed", pi, ctx.account)
        return Outcome(charge, error)
    _settle(ctx, pi, charge)
    if card is not None and card.dispute:
        open_dispute(ctx, charge)
    return Outcome(charge, None)


def _new_charge(ctx: Ctx, pi: Obj, pm: Obj) -> Obj:
    charge = charge_shape(new_id("ch"), ctx.now, pi["amount"], pi["currency"])
    charge.update(
        customer=pi["customer"],
        description=pi["description"],
        payment_intent=pi["id"],
        payment_method=pm["id"],
        metadata=dict(pi["metadata"]),
        billing_details=pm["billing_details"],
        receipt_url=f"{ctx.base_url}/receipts/{charge['id']}",
    )
    if pm["type"] == "card":
        card = pm["card"]
        details = {k: card[k] for k in ("brand", "country", "exp_month", "exp_year", "last4")}
        details.update(
            checks=card["checks"],
            fingerprint=card["fingerprint"],
            funding=card["funding"],
            network="visa" if card["brand"] == "visa" else card["brand"],
            wallet=None,
            three_d_secure=None,
        )
        charge["payment_method_details"] = {"card": details, "type": "card"}
    else:
        charge["payment_method_details"] = {
            "stripe_balance": dict(pm.get("stripe_balance") or {}),
            "type": pm["type"],
        }
    ctx.store.add(charge, ctx.account)
    return charge


def _outcome(type_: str, reason: str | None) -> dict[str, object]:
    authorized = type_ == "authorized"
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network" if authorized else "declined_by_network",
        "reason": reason,
        "risk_level": "normal",
        "risk_score": 20,
        "seller_message": "Payment complete."
        if authorized
        else "The bank did not return any further details with this decline.",
        "type": type_,
    }


def _settle(ctx: Ctx, pi: Obj, charge: Obj, *, processing_fee: bool = True) -> None:
    store = ctx.store
    amount, currency = charge["amount"], charge["currency"]
    details = []
    if processing_fee:
        details.append(
            fee_detail("stripe_fee", stripe_fee(amount), currency, "Stripe processing fees")
        )
    app_fee_amount = pi["application_fee_amount"]
    fee: Obj | None = None
    if app_fee_amount and ctx.connected:
        details.append(fee_detail("application_fee", app_fee_amount, currency, "Application fee"))
        details[-1]["application"] = PLATFORM_APPLICATION
    txn = add_balance_transaction(
        store,
        ctx.account,
        amount=amount,
        currency=currency,
        type_="charge" if pi["payment_method_types"] != ["stripe_balance"] else "payment",
        source=charge["id"],
        fee_details=details,
        immediately=not processing_fee,
        description=pi["description"],
    )
    charge.update(
        status="succeeded",
        paid=True,
        captured=True,
        amount_captured=amount,
        balance_transaction=txn["id"],
        outcome=_outcome("authorized", None),
        application_fee_amount=app_fee_amount if ctx.connected else None,
    )
    if app_fee_amount and ctx.connected:
        fee = _application_fee(ctx, charge, app_fee_amount)
        charge["application_fee"] = fee["id"]
        charge["application"] = PLATFORM_APPLICATION
    pi.update(status="succeeded", amount_received=amount, latest_charge=charge["id"])
    pi["last_payment_error"] = None
    pi["next_action"] = None
    store.emit("charge.succeeded", charge, ctx.account)
    store.emit("payment_intent.succeeded", pi, ctx.account)
    if fee is not None:
        store.emit("application_fee.created", fee, store.platform_id)


def _application_fee(ctx: Ctx, charge: Obj, amount: int) -> Obj:
    store = ctx.store
    fee = application_fee_shape(
        new_id("fee"), ctx.now, ctx.account, amount, charge["currency"], charge["id"]
    )
    store.add(fee, store.platform_id)
    txn = add_balance_transaction(
        store,
        store.platform_id,
        amount=amount,
        currency=charge["currency"],
        type_="application_fee",
        source=fee["id"],
        description="Application fee",
    )
    fee["balance_transaction"] = txn["id"]
    return fee


def _charge_from_balance(ctx: Ctx, pi: Obj, pm: Obj) -> Outcome:
    """Stripe balance payment: debits the connected account's available balance."""
    store = ctx.store
    payer = str(store.hidden(pm["id"])["balance_account"])
    if available_balance(store, payer, pi["currency"]) < pi["amount"]:
        error = StripeError(
            "The Stripe balance of the paying account is insufficient to cover this payment.",
            status=402,
            type_="card_error",
            code="insufficient_funds",
            extra={"decline_code": "insufficient_funds", "payment_intent": pi},
        )
        pi["status"] = "requires_action"
        pi["next_action"] = {"type": "stripe_balance_insufficient_funds"}
        pi["last_payment_error"] = {
            "code": "insufficient_funds",
            "message": error.message,
            "payment_method": pm,
            "type": "card_error",
        }
        store.emit("payment_intent.requires_action", pi, ctx.account)
        store.emit("payment_intent.payment_failed", pi, ctx.account)
        return Outcome(None, error)
    charge = _new_charge(ctx, pi, pm)
    add_balance_transaction(
        store,
        payer,
        amount=-pi["amount"],
        currency=pi["currency"],
        type_="stripe_balance_payment_debit",
        source=charge["id"],
        immediately=True,
        description=pi["description"] or "Stripe balance payment",
    )
    _settle(ctx, pi, charge, processing_fee=False)
    return Outcome(charge, None)


def open_dispute(ctx: Ctx, charge: Obj) -> Obj:
    store = ctx.store
    dispute = dispute_shape(
        new_id("dp"), ctx.now, charge["amount"], charge["currency"], charge["id"]
    )
    dispute["payment_intent"] = charge["payment_intent"]
    txn = add_balance_transaction(
        store,
        ctx.account,
        amount=-charge["amount"],
        currency=charge["currency"],
        type_="adjustment",
        source=dispute["id"],
        fee_details=[fee_detail("stripe_fee", DISPUTE_FEE, charge["currency"], "Dispute fee")],
        immediately=True,
        description=f"Chargeback withdrawal for {charge['id']}",
        reporting_category="dispute",
    )
    dispute["balance_transactions"] = [txn]
    store.add(dispute, ctx.account)
    charge["disputed"] = True
    store.emit("charge.dispute.created", dispute, ctx.account)
    store.emit("charge.dispute.funds_withdrawn", dispute, ctx.account)
    return dispute
