"""Payment methods (create, list, attach, detach) and setup intents."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, resource_missing
from stripe_emulator.forms import get_bool, get_dict, get_list, get_str, merge_metadata
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.accounts import require_balance_payer
from stripe_emulator.rules.customers import get_customer
from stripe_emulator.rules.payment_methods import (
    CARD_NUMBERS,
    attach,
    decline_error,
    new_card,
    resolve_payment_method,
    test_card_name,
    test_card_of,
)
from stripe_emulator.shapes.customers import (
    payment_method_shape,
    setup_attempt_shape,
    setup_intent_shape,
)
from stripe_emulator.store import Obj, new_id


def allowed_types(ctx: Ctx) -> list[str]:
    """`allowed_payment_method_types` of a PaymentIntent/SetupIntent request ([] if absent).

    Since 2026-09-30.endive `payment_method_types` is no longer writable on intents (the
    objects still report it, computed); Stripe answers 400 if it is passed.
    """
    if "payment_method_types" in ctx.params:
        raise StripeError(
            "The `payment_method_types` parameter is no longer supported on this API version; "
            "use `allowed_payment_method_types` (or `excluded_payment_method_types`) instead.",
            code="payment_method_types_no_longer_supported",
            param="payment_method_types",
        )
    return [str(t) for t in get_list(ctx.params, "allowed_payment_method_types")]


@route("POST", "/v1/payment_methods")
def create_payment_method(ctx: Ctx) -> Obj:
    type_ = get_str(ctx.params, "type")
    if type_ != "card":
        raise StripeError(
            "The emulator creates payment methods of type card only (use a SetupIntent for "
            "stripe_balance).",
            param="type",
        )
    card = get_dict(ctx.params, "card")
    token = str(card.get("token", ""))
    name = test_card_name(token) or CARD_NUMBERS.get(str(card.get("number", "")))
    if name is None:
        raise StripeError("Invalid card: use a test token or test card number.", param="card")
    pm = new_card(ctx, name)
    billing = get_dict(ctx.params, "billing_details")
    for key in ("email", "name", "phone"):
        if key in billing:
            pm["billing_details"][key] = billing[key] or None
    pm["metadata"] = merge_metadata({}, ctx.params)
    return pm


@route("GET", "/v1/payment_methods")
def list_payment_methods(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "payment_method",
        "/v1/payment_methods",
        field_filter(ctx.params, "customer"),
        field_filter(ctx.params, "type"),
    )


@route("GET", "/v1/payment_methods/{id}")
def retrieve_payment_method(ctx: Ctx) -> Obj:
    return resolve_payment_method(ctx, ctx.path["id"], "id")


@route("POST", "/v1/payment_methods/{id}")
def update_payment_method(ctx: Ctx) -> Obj:
    pm = ctx.store.get("payment_method", ctx.path["id"], ctx.account)
    pm["metadata"] = merge_metadata(pm["metadata"], ctx.params)
    ctx.store.emit("payment_method.updated", pm, ctx.account)
    return pm


@route("POST", "/v1/payment_methods/{id}/attach")
def attach_payment_method(ctx: Ctx) -> Obj:
    customer = get_customer(ctx, ctx.params.get("customer"), "customer")
    pm = resolve_payment_method(ctx, ctx.path["id"], "id")
    attach(ctx, pm, customer)
    return pm


@route("POST", "/v1/payment_methods/{id}/detach")
def detach_payment_method(ctx: Ctx) -> Obj:
    pm = ctx.store.get("payment_method", ctx.path["id"], ctx.account)
    if pm["customer"] is None:
        raise StripeError("The payment method you provided is not attached to a customer.")
    customer = ctx.store.find(pm["customer"])
    if customer and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        customer["invoice_settings"]["default_payment_method"] = None
    pm["customer"] = None
    ctx.store.emit("payment_method.detached", pm, ctx.account)
    return pm


# setup intents ----------------------------------------------------------------
@route("POST", "/v1/setup_intents")
def create_setup_intent(ctx: Ctx) -> Obj:
    allowed = allowed_types(ctx)
    types = allowed or ["card"]
    intent = setup_intent_shape(new_id("seti"), ctx.now, types)
    intent["allowed_payment_method_types"] = allowed or None
    customer_id = get_str(ctx.params, "customer")
    if customer_id is not None:
        intent["customer"] = get_customer(ctx, customer_id, "customer")["id"]
    customer_account = get_str(ctx.params, "customer_account")
    if customer_account is not None:
        if ctx.store.connected_account(customer_account) is None:
            raise resource_missing("account", customer_account, "customer_account")
        intent["customer_account"] = customer_account
    intent["usage"] = get_str(ctx.params, "usage") or "off_session"
    intent["description"] = get_str(ctx.params, "description")
    intent["metadata"] = merge_metadata({}, ctx.params)
    pm_id = get_str(ctx.params, "payment_method")
    ctx.store.add(intent, ctx.account)
    ctx.store.emit("setup_intent.created", intent, ctx.account)
    if pm_id is not None or "stripe_balance" in types:
        intent["status"] = "requires_confirmation"
        intent["payment_method"] = pm_id
    if get_bool(ctx.params, "confirm", False):
        _confirm(ctx, intent, pm_id)
    return intent


@route("POST", "/v1/setup_intents/{id}/confirm")
def confirm_setup_intent(ctx: Ctx) -> Obj:
    intent = ctx.store.get("setup_intent", ctx.path["id"], ctx.account)
    allowed_types(ctx)
    pm_id = get_str(ctx.params, "payment_method") or intent["payment_method"]
    _confirm(ctx, intent, pm_id)
    return intent


def _confirm(ctx: Ctx, intent: Obj, pm_id: str | None) -> None:
    if intent["status"] == "succeeded":
        raise StripeError(
            "This SetupIntent has already succeeded.", code="setup_intent_unexpected_state"
        )
    if "stripe_balance" in intent["payment_method_types"] and pm_id is None:
        account_id = intent.get("customer_account")
        if account_id is None:
            raise StripeError(
                "customer_account is required for stripe_balance.", param="customer_account"
            )
        require_balance_payer(ctx.store, account_id)
        pm = payment_method_shape(new_id("pm"), ctx.now, "stripe_balance")
        pm["stripe_balance"] = {"account": account_id}
        pm["customer_account"] = account_id
        ctx.store.add(pm, ctx.account)
        ctx.store.hidden(pm["id"])["balance_account"] = account_id
    elif pm_id is None:
        raise StripeError(
            "You cannot confirm this SetupIntent because it's missing a payment method.",
            code="setup_intent_unexpected_state",
        )
    else:
        pm = resolve_payment_method(ctx, pm_id, "payment_method")
        card = test_card_of(ctx, pm)
        if card is not None and card.decline_code and card.last4 != "0341":
            intent["status"] = "requires_payment_method"
            error = decline_error(card, {"setup_intent": intent})
            intent["last_setup_error"] = {**error.body()["error"], "setup_intent": None}
            ctx.store.emit("setup_intent.setup_failed", intent, ctx.account)
            raise error
        if intent["customer"] is not None:
            customer = ctx.store.objects[intent["customer"]]
            attach(ctx, pm, customer)
    intent["payment_method"] = pm["id"]
    intent["status"] = "succeeded"
    attempt = setup_attempt_shape(new_id("setatt"), ctx.now, intent, pm)
    ctx.store.add(attempt, ctx.account)
    intent["latest_attempt"] = attempt["id"]
    ctx.store.emit("setup_intent.succeeded", intent, ctx.account)


@route("GET", "/v1/setup_intents/{id}")
def retrieve_setup_intent(ctx: Ctx) -> Obj:
    return ctx.store.get("setup_intent", ctx.path["id"], ctx.account)


@route("GET", "/v1/setup_intents")
def list_setup_intents(ctx: Ctx) -> Obj:
    return list_objects(
        ctx, "setup_intent", "/v1/setup_intents", field_filter(ctx.params, "customer")
    )
