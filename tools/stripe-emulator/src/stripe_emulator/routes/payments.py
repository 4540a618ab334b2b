"""PaymentIntents and charges endpoints."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import MAX_AMOUNT, StripeError, amount_too_large
from stripe_emulator.forms import get_bool, get_int, get_str, merge_metadata, req_str
from stripe_emulator.routes.payment_methods import allowed_types
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.customers import get_customer
from stripe_emulator.rules.money import charge_intent, new_payment_intent, require_charges_enabled
from stripe_emulator.rules.payment_methods import resolve_payment_method
from stripe_emulator.store import Obj


@route("POST", "/v1/payment_intents")
def create_payment_intent(ctx: Ctx) -> Obj:
    params = ctx.params
    amount = get_int(params, "amount", required=True)
    assert amount is not None
    if amount < 50:
        raise StripeError(
            "Amount must be at least $0.50 usd", code="amount_too_small", param="amount"
        )
    currency = req_str(params, "currency").lower()
    if amount > MAX_AMOUNT:
        raise amount_too_large("amount", currency)
    customer = None
    if get_str(params, "customer"):
        customer = get_customer(ctx, params["customer"], "customer")
    pi = new_payment_intent(
        ctx,
        amount,
        currency,
        customer["id"] if customer else None,
        get_int(params, "application_fee_amount"),
    )
    pi["description"] = get_str(params, "description")
    pi["metadata"] = merge_metadata({}, params)
    allowed = allowed_types(ctx)
    if allowed:
        pi["allowed_payment_method_types"] = allowed
        pi["payment_method_types"] = allowed
    pm_id = get_str(params, "payment_method")
    if pm_id is not None:
        pm = resolve_payment_method(ctx, pm_id, "payment_method", None)
        pi["payment_method"] = pm["id"]
        pi["status"] = "requires_confirmation"
    ctx.store.emit("payment_intent.created", pi, ctx.account)
    if get_bool(params, "confirm", False):
        _confirm(ctx, pi)
    return pi


def _confirm(ctx: Ctx, pi: Obj) -> None:
    if pi["status"] not in ("requires_confirmation", "requires_payment_method", "requires_action"):
        raise StripeError(
            f"This PaymentIntent's status is {pi['status']}; it cannot be confirmed.",
            code="payment_intent_unexpected_state",
        )
    if pi["payment_method"] is None:
        raise StripeError(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    require_charges_enabled(ctx)
    pm = ctx.store.objects[pi["payment_method"]]
    outcome = charge_intent(ctx, pi, pm)
    if outcome.error is not None:
        raise outcome.error


@route("POST", "/v1/payment_intents/{id}/confirm")
def confirm_payment_intent(ctx: Ctx) -> Obj:
    pi = ctx.store.get("payment_intent", ctx.path["id"], ctx.account)
    allowed_types(ctx)
    pm_id = get_str(ctx.params, "payment_method")
    if pm_id is not None:
        pi["payment_method"] = resolve_payment_method(ctx, pm_id, "payment_method")["id"]
    _confirm(ctx, pi)
    return pi


@route("POST", "/v1/payment_intents/{id}/cancel")
def cancel_payment_intent(ctx: Ctx) -> Obj:
    pi = ctx.store.get("payment_intent", ctx.path["id"], ctx.account)
    if pi["status"] in ("succeeded", "canceled"):
        raise StripeError(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}.",
            code="payment_intent_unexpected_state",
        )
    pi.update(status="canceled", canceled_at=ctx.now)
    pi["cancellation_reason"] = (
        get_str(ctx.params, "cancellation_reason") or "requested_by_customer"
    )
    ctx.store.emit("payment_intent.canceled", pi, ctx.account)
    return pi


@route("GET", "/v1/payment_intents/{id}")
def retrieve_payment_intent(ctx: Ctx) -> Obj:
    return ctx.store.get("payment_intent", ctx.path["id"], ctx.account)


@route("POST", "/v1/payment_intents/{id}")
def update_payment_intent(ctx: Ctx) -> Obj:
    pi = ctx.store.get("payment_intent", ctx.path["id"], ctx.account)
    allowed_types(ctx)
    pi["metadata"] = merge_metadata(pi["metadata"], ctx.params)
    if "description" in ctx.params:
        pi["description"] = get_str(ctx.params, "description")
    return pi


@route("GET", "/v1/payment_intents")
def list_payment_intents(ctx: Ctx) -> Obj:
    return list_objects(
        ctx, "payment_intent", "/v1/payment_intents", field_filter(ctx.params, "customer")
    )


@route("GET", "/v1/charges")
def list_charges(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "charge",
        "/v1/charges",
        field_filter(ctx.params, "customer"),
        field_filter(ctx.params, "payment_intent"),
    )


@route("GET", "/v1/charges/{id}")
def retrieve_charge(ctx: Ctx) -> Obj:
    return ctx.store.get("charge", ctx.path["id"], ctx.account)


@route("POST", "/v1/charges/{id}")
def update_charge(ctx: Ctx) -> Obj:
    charge = ctx.store.get("charge", ctx.path["id"], ctx.account)
    charge["metadata"] = merge_metadata(charge["metadata"], ctx.params)
    if "description" in ctx.params:
        charge["description"] = get_str(ctx.params, "description")
    ctx.store.emit("charge.updated", charge, ctx.account)
    return charge
