"""Subscriptions: create (first invoice now), list, update (settings, collection method,
prices with prorations), cancel."""

from __future__ import annotations

from decimal import Decimal

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, invalid_param, missing_param
from stripe_emulator.forms import (
    Params,
    get_bool,
    get_decimal,
    get_dict,
    get_int,
    get_list,
    get_str,
    merge_metadata,
)
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.customers import get_customer
from stripe_emulator.rules.dates import add_period
from stripe_emulator.rules.invoicing import collect, finalize, payment_method_for
from stripe_emulator.rules.money import require_charges_enabled
from stripe_emulator.rules.payment_methods import resolve_payment_method
from stripe_emulator.rules.price_changes import (
    change_items,
    interval_of,
    invoice_now,
    prorate,
    proration_behavior,
    restart_cycle,
)
from stripe_emulator.rules.subscription_status import cancel
from stripe_emulator.rules.subscriptions import subscription_invoice
from stripe_emulator.shapes.billing import subscription_item_shape, subscription_shape
from stripe_emulator.store import Obj, changed, new_id, snapshot

BEHAVIORS = (
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
)


def _customer_of(ctx: Ctx, params: Params) -> tuple[Obj | None, str | None]:
    customer_id = get_str(params, "customer")
    customer_account = get_str(params, "customer_account")
    if customer_id is None and customer_account is None:
        raise missing_param("customer")
    if customer_account is not None:
        if ctx.store.connected_account(customer_account) is None:
            raise StripeError(
                f"No such account: '{customer_account}'",
                status=404,
                code="resource_missing",
                param="customer_account",
            )
        return None, customer_account
    return get_customer(ctx, customer_id, "customer"), None


def _items(ctx: Ctx, sub: Obj, params: Params, start: int) -> None:
    raw_items = get_list(params, "items")
    if not raw_items:
        raise missing_param("items")
    for index, raw in enumerate(raw_items):
        price_id = raw.get("price") if isinstance(raw, dict) else None
        if not price_id:
            raise missing_param(f"items[{index}][price]")
        price = ctx.store.get("price", price_id, ctx.account, f"items[{index}][price]")
        if price["recurring"] is None:
            raise invalid_param(
                f"items[{index}][price]",
                f"The price specified ({price_id}) is a one-time price; subscriptions need a "
                "recurring price.",
            )
        recurring = price["recurring"]
        end = add_period(start, recurring["interval"], recurring["interval_count"], start)
        quantity = int(raw.get("quantity", 1))
        item = subscription_item_shape(
            new_id("si", 14), ctx.now, sub["id"], price, quantity, start, end
        )
        item["metadata"] = merge_metadata({}, raw)
        sub["items"]["data"].append(item)
    sub["currency"] = sub["items"]["data"][0]["price"]["currency"]


def _apply_settings(ctx: Ctx, sub: Obj, params: Params, customer: Obj | None) -> None:
    method = get_str(params, "collection_method")
    if method is not None:
        if method not in ("charge_automatically", "send_invoice"):
            raise invalid_param("collection_method", f"Invalid collection_method: {method}")
        sub["collection_method"] = method
    days = get_int(params, "days_until_due")
    if days is not None:
        if sub["collection_method"] != "send_invoice":
            raise StripeError(
                "The days_until_due parameter may only be set when collection_method is "
                "send_invoice.",
                param="days_until_due",
            )
        sub["days_until_due"] = days
    percent = get_decimal(params, "application_fee_percent")
    if percent is not None:
        if not ctx.connected:
            raise StripeError(
                "You can only set application_fee_percent on subscriptions created on a "
                "connected account (use the Stripe-Account header).",
                param="application_fee_percent",
            )
        if not Decimal(0) <= percent <= Decimal(100) or percent != round(percent, 2):
            raise invalid_param(
                "application_fee_percent",
                "application_fee_percent must be between 0 and 100 with at most 2 decimals.",
            )
        sub["application_fee_percent"] = float(percent)
    if "default_payment_method" in params:
        pm_id = get_str(params, "default_payment_method")
        sub["default_payment_method"] = (
            resolve_payment_method(ctx, pm_id, "default_payment_method", customer)["id"]
            if pm_id
            else None
        )
    settings = get_dict(params, "payment_settings")
    types = get_list(settings, "payment_method_types")
    if types:
        sub["payment_settings"]["payment_method_types"] = [str(t) for t in types]
    if settings.get("save_default_payment_method"):
        sub["payment_settings"]["save_default_payment_method"] = settings[
            "save_default_payment_method"
        ]
    cancel = get_bool(params, "cancel_at_period_end")
    if cancel is not None:
        sub["cancel_at_period_end"] = cancel
        sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"] if cancel else None
    if "description" in params:
        sub["description"] = get_str(params, "description")
    sub["metadata"] = merge_metadata(sub["metadata"], params)


@route("POST", "/v1/subscriptions")
def create_subscription(ctx: Ctx) -> Obj:
    params = ctx.params
    customer, customer_account = _customer_of(ctx, params)
    behavior = get_str(params, "payment_behavior") or "allow_incomplete"
    if behavior not in BEHAVIORS:
        raise invalid_param("payment_behavior", f"Invalid payment_behavior: {behavior}")
    sub = subscription_shape(new_id("sub"), ctx.now, customer["id"] if customer else None, "usd")
    if customer_account is not None:
        sub["customer_account"] = customer_account
    _items(ctx, sub, params, ctx.now)
    _apply_settings(ctx, sub, params, customer)
    automatic = sub["collection_method"] == "charge_automatically"
    if automatic and behavior != "default_incomplete":
        require_charges_enabled(ctx)
    sub["status"] = "incomplete" if automatic else "active"
    ctx.store.add(sub, ctx.account)
    ctx.store.hidden(sub["id"])["payment_behavior"] = behavior
    invoice = subscription_invoice(ctx, sub, "subscription_create", emit=False)
    ctx.store.emit("customer.subscription.created", sub, ctx.account)
    ctx.store.emit("invoice.created", invoice, ctx.account)
    finalize(ctx, invoice)
    if invoice["status"] != "open":
        return sub
    if not automatic:
        ctx.store.emit("invoice.sent", invoice, ctx.account)
        return sub
    pm = payment_method_for(ctx, invoice)
    pi = ctx.store.objects[ctx.store.hidden(invoice["id"])["payment_intent"]]
    if behavior == "default_incomplete" or pm is None:
        if pm is not None:
            pi.update(payment_method=pm["id"], status="requires_confirmation")
        elif behavior == "error_if_incomplete":
            raise StripeError(
                "This customer has no attached payment source or default payment method.",
                code="resource_missing",
            )
        return sub
    outcome = collect(ctx, invoice, pm, automatic=True)
    if outcome.error is not None and behavior == "error_if_incomplete":
        sub["status"] = "incomplete_expired"
        raise outcome.error
    return sub


def _sub(ctx: Ctx) -> Obj:
    return ctx.store.get("subscription", ctx.path["id"], ctx.account)


@route("GET", "/v1/subscriptions")
def list_subscriptions(ctx: Ctx) -> Obj:
    status = get_str(ctx.params, "status")
    price = get_str(ctx.params, "price")
    return list_objects(
        ctx,
        "subscription",
        "/v1/subscriptions",
        field_filter(ctx.params, "customer"),
        field_filter(ctx.params, "customer_account"),
        field_filter(ctx.params, "collection_method"),
        (lambda s: s["status"] not in ("canceled", "incomplete_expired"))
        if status is None
        else None
        if status == "all"
        else (lambda s: s["status"] == status),
        (lambda s: any(i["price"]["id"] == price for i in s["items"]["data"])) if price else None,
    )


@route("GET", "/v1/subscriptions/{id}")
def retrieve_subscription(ctx: Ctx) -> Obj:
    return _sub(ctx)


@route("POST", "/v1/subscriptions/{id}")
def update_subscription(ctx: Ctx) -> Obj:
    sub = _sub(ctx)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise StripeError(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    before = snapshot(sub)
    customer = ctx.store.find(sub["customer"] or "")
    behavior = proration_behavior(ctx.params)
    try:
        _apply_settings(ctx, sub, ctx.params, customer)
        _check_collection(ctx, sub, before, customer)
        changes = change_items(ctx, sub, get_list(ctx.params, "items"))
    except StripeError:
        sub.clear()  # a refused update changes nothing
        sub.update(before)
        raise
    at = get_int(ctx.params, "proration_date") or ctx.now
    if interval_of(sub) != interval_of(before):
        restart_cycle(ctx, sub, changes, behavior, at)
    elif behavior != "none" and sub["status"] != "incomplete":
        pending = [p for item, old in changes for p in prorate(ctx, sub, item, old, at)]
        if behavior == "always_invoice" and pending:
            invoice_now(ctx, sub, pending, "subscription_update")
    previous = changed(before, sub)
    ctx.store.emit("customer.subscription.updated", sub, ctx.account, previous)
    return sub


def _check_collection(ctx: Ctx, sub: Obj, before: Obj, customer: Obj | None) -> None:
    """Switching to `charge_automatically` drops `days_until_due` and needs something to
    charge: the subscription's or the customer's default payment method."""
    if sub["collection_method"] == before["collection_method"]:
        return
    if sub["collection_method"] == "send_invoice":
        return
    sub["days_until_due"] = None
    customer_default = customer["invoice_settings"]["default_payment_method"] if customer else None
    if sub["default_payment_method"] is None and customer_default is None:
        raise StripeError(
            "This customer has no attached payment source or default payment method. Please "
            "consider adding a default payment method.",
            code="resource_missing",
            param="collection_method",
        )


@route("DELETE", "/v1/subscriptions/{id}")
def cancel_subscription_now(ctx: Ctx) -> Obj:
    sub = _sub(ctx)
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise StripeError(
            f"No such subscription: '{sub['id']}' (it is already canceled)",
            status=404,
            code="resource_missing",
            param="id",
        )
    cancel(ctx, sub, "cancellation_requested")
    return sub
