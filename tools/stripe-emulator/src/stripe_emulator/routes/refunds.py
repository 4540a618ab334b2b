"""Refunds (incl. application fee refunds), disputes and application fees."""

from __future__ import annotations

from decimal import Decimal

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, missing_param
from stripe_emulator.forms import get_bool, get_dict, get_int, get_str, merge_metadata
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.money import add_balance_transaction, percent_of
from stripe_emulator.rules.payment_methods import test_card_of
from stripe_emulator.shapes.money import fee_refund_shape, refund_shape
from stripe_emulator.store import Obj, changed, new_id, snapshot


@route("POST", "/v1/refunds")
def create_refund(ctx: Ctx) -> Obj:
    params = ctx.params
    charge_id = get_str(params, "charge")
    pi_id = get_str(params, "payment_intent")
    if charge_id is None and pi_id is not None:
        pi = ctx.store.get("payment_intent", pi_id, ctx.account, "payment_intent")
        charge_id = pi["latest_charge"]
        if charge_id is None or pi["status"] != "succeeded":
            raise StripeError(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
    if charge_id is None:
        raise missing_param("charge")
    charge = ctx.store.get("charge", charge_id, ctx.account, "charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    amount = get_int(params, "amount")
    amount = remaining if amount is None else amount
    if charge["status"] != "succeeded":
        raise StripeError("This charge cannot be refunded.", code="charge_not_refundable")
    if remaining == 0:
        raise StripeError(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    if amount <= 0 or amount > remaining:
        raise StripeError(
            f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on charge "
            f"(${remaining / 100:.2f})",
            param="amount",
        )
    refund = refund_shape(new_id("re"), ctx.now, amount, charge["currency"], charge["id"])
    refund["payment_intent"] = charge["payment_intent"]
    refund["reason"] = get_str(params, "reason")
    refund["metadata"] = merge_metadata({}, params)
    txn = add_balance_transaction(
        ctx.store,
        ctx.account,
        amount=-amount,
        currency=charge["currency"],
        type_="refund",
        source=refund["id"],
        immediately=True,
        description="REFUND FOR CHARGE",
    )
    refund["balance_transaction"] = txn["id"]
    ctx.store.add(refund, ctx.account)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    charge["refunds"]["data"].insert(0, refund)
    fee: Obj | None = None
    if get_bool(params, "refund_application_fee", False) and charge["application_fee"]:
        fee = _refund_application_fee(ctx, charge, amount)
    ctx.store.emit("refund.created", refund, ctx.account)
    ctx.store.emit("charge.refunded", charge, ctx.account)
    if fee is not None:
        ctx.store.emit("application_fee.refunded", fee, ctx.store.platform_id)
    answer: Obj = snapshot(refund)
    if _refund_fails(ctx, charge):
        fail_refund(ctx, refund, charge)
    return answer


def _refund_fails(ctx: Ctx, charge: Obj) -> bool:
    """Stripe's test card 4000 0000 0000 5126 (``pm_card_refundFail``): its charges succeed
    and their refunds fail after they were created."""
    pm = ctx.store.find(charge["payment_method"] or "")
    card = test_card_of(ctx, pm) if pm is not None else None
    return card is not None and card.refund_fails


def fail_refund(
    ctx: Ctx, refund: Obj, charge: Obj, reason: str = "expired_or_canceled_card"
) -> None:
    """A refund that could not reach the card: its amount comes back to the balance (a
    ``refund_failure`` balance transaction, ``failure_balance_transaction`` on the refund),
    the charge no longer counts it as refunded, and ``charge.refund.updated``,
    ``refund.updated`` and ``refund.failed`` tell of it."""
    before = snapshot(refund)
    txn = _given_back(ctx, refund, "refund_failure", "REFUND FAILURE", "refund_failure")
    refund.update(status="failed", failure_balance_transaction=txn["id"], failure_reason=reason)
    previous = changed(before, refund)
    previous.update(failure_balance_transaction=None, failure_reason=None)
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    for event_type in ("charge.refund.updated", "refund.updated"):
        ctx.store.emit(event_type, refund, ctx.account, previous)
    ctx.store.emit("refund.failed", refund, ctx.account)


def _given_back(
    ctx: Ctx, source: Obj, type_: str, description: str, reporting_category: str
) -> Obj:
    """The balance transaction that gives ``source``'s amount (a failed refund, a dispute
    won) back to the account's balance at once."""
    return add_balance_transaction(
        ctx.store,
        ctx.account,
        amount=source["amount"],
        currency=source["currency"],
        type_=type_,
        source=source["id"],
        immediately=True,
        description=description,
        reporting_category=reporting_category,
    )


def _refund_application_fee(ctx: Ctx, charge: Obj, refunded: int) -> Obj:
    store = ctx.store
    fee = store.objects[charge["application_fee"]]
    share = percent_of(fee["amount"], Decimal(refunded) * 100 / Decimal(charge["amount"]))
    share = min(share, fee["amount"] - fee["amount_refunded"])
    return refund_fee(ctx, fee, share)


def refund_fee(ctx: Ctx, fee: Obj, amount: int) -> Obj:
    store = ctx.store
    fee_refund = fee_refund_shape(new_id("fr"), ctx.now, amount, fee["currency"], fee["id"])
    platform_txn = add_balance_transaction(
        store,
        store.platform_id,
        amount=-amount,
        currency=fee["currency"],
        type_="application_fee_refund",
        source=fee_refund["id"],
        immediately=True,
    )
    add_balance_transaction(
        store,
        fee["account"],
        amount=amount,
        currency=fee["currency"],
        type_="application_fee_refund",
        source=fee_refund["id"],
        immediately=True,
    )
    fee_refund["balance_transaction"] = platform_txn["id"]
    store.add(fee_refund, store.platform_id)
    fee["amount_refunded"] += amount
    fee["refunded"] = fee["amount_refunded"] == fee["amount"]
    fee["refunds"]["data"].insert(0, fee_refund)
    return fee


@route("GET", "/v1/refunds")
def list_refunds(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "refund",
        "/v1/refunds",
        field_filter(ctx.params, "charge"),
        field_filter(ctx.params, "payment_intent"),
    )


@route("GET", "/v1/refunds/{id}")
def retrieve_refund(ctx: Ctx) -> Obj:
    return ctx.store.get("refund", ctx.path["id"], ctx.account)


# disputes ---------------------------------------------------------------------
@route("GET", "/v1/disputes")
def list_disputes(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "dispute",
        "/v1/disputes",
        field_filter(ctx.params, "charge"),
        field_filter(ctx.params, "payment_intent"),
    )


@route("GET", "/v1/disputes/{id}")
def retrieve_dispute(ctx: Ctx) -> Obj:
    return ctx.store.get("dispute", ctx.path["id"], ctx.account)


@route("POST", "/v1/disputes/{id}")
def update_dispute(ctx: Ctx) -> Obj:
    dispute = ctx.store.get("dispute", ctx.path["id"], ctx.account)
    _require_open(dispute)
    before = snapshot(dispute)
    evidence = get_dict(ctx.params, "evidence")
    for key, value in evidence.items():
        if key in dispute["evidence"]:
            dispute["evidence"][key] = value or None
    dispute["metadata"] = merge_metadata(dispute["metadata"], ctx.params)
    if evidence:
        dispute["evidence_details"]["has_evidence"] = True
    if get_bool(ctx.params, "submit", True) and evidence:
        dispute["evidence_details"]["submission_count"] += 1
        dispute["status"] = "under_review"
    previous = changed(before, dispute)
    ctx.store.emit("charge.dispute.updated", dispute, ctx.account, previous)
    text = dispute["evidence"].get("uncategorized_text")
    if dispute["status"] == "under_review" and text in ("winning_evidence", "losing_evidence"):
        close_dispute(ctx, dispute, won=text == "winning_evidence")
    return dispute


@route("POST", "/v1/disputes/{id}/close")
def accept_dispute(ctx: Ctx) -> Obj:
    dispute = ctx.store.get("dispute", ctx.path["id"], ctx.account)
    _require_open(dispute)
    close_dispute(ctx, dispute, won=False)
    return dispute


def _require_open(dispute: Obj) -> None:
    if dispute["status"] in ("won", "lost", "warning_closed"):
        raise StripeError("This dispute is already closed.", code="dispute_already_closed")


def close_dispute(ctx: Ctx, dispute: Obj, *, won: bool) -> None:
    dispute["status"] = "won" if won else "lost"
    if won:
        reversal = f"Chargeback reversal for {dispute['charge']}"
        txn = _given_back(ctx, dispute, "adjustment", reversal, "dispute_reversal")
        dispute["balance_transactions"].append(txn)
        ctx.store.emit("charge.dispute.funds_reinstated", dispute, ctx.account)
    ctx.store.emit("charge.dispute.closed", dispute, ctx.account)


# application fees ---------------------------------------------------------------
def _platform_fee(ctx: Ctx) -> Obj:
    return ctx.store.get("application_fee", ctx.path["id"], ctx.store.platform_id)


@route("GET", "/v1/application_fees")
def list_application_fees(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "application_fee",
        "/v1/application_fees",
        field_filter(ctx.params, "charge"),
        ids=ctx.store.ids(ctx.store.platform_id, "application_fee"),
    )


@route("GET", "/v1/application_fees/{id}")
def retrieve_application_fee(ctx: Ctx) -> Obj:
    return _platform_fee(ctx)


@route("POST", "/v1/application_fees/{id}/refunds")
def create_fee_refund(ctx: Ctx) -> Obj:
    fee = _platform_fee(ctx)
    remaining = fee["amount"] - fee["amount_refunded"]
    amount = get_int(ctx.params, "amount")
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise StripeError(
            "Refund amount is greater than the unrefunded application fee.", param="amount"
        )
    refund_fee(ctx, fee, amount)
    ctx.store.emit("application_fee.refunded", fee, ctx.store.platform_id)
    refund: Obj = fee["refunds"]["data"][0]
    return refund


@route("GET", "/v1/application_fees/{id}/refunds")
def list_fee_refunds(ctx: Ctx) -> Obj:
    fee = _platform_fee(ctx)
    return list_objects(
        ctx,
        "fee_refund",
        f"/v1/application_fees/{fee['id']}/refunds",
        ids=[r["id"] for r in reversed(fee["refunds"]["data"])],
    )
