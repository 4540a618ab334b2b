"""Products and prices, with Stripe's update rules."""

from __future__ import annotations

from typing import Any

from stripe_emulator.context import Ctx
from stripe_emulator.errors import MAX_AMOUNT, StripeError, integer_too_large, invalid_param
from stripe_emulator.expansion import fixed_includable, includable
from stripe_emulator.forms import (
    Params,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    merge_metadata,
    req_str,
)
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.shapes.products import price_shape, product_shape
from stripe_emulator.store import Obj, Store, changed, new_id, snapshot

PRODUCT_TEXT_FIELDS = ("description", "statement_descriptor", "tax_code", "unit_label", "url")
PRICE_UPDATABLE = (
    "active",
    "metadata",
    "nickname",
    "lookup_key",
    "tax_behavior",
    "currency_options",
    "transfer_lookup_key",
)
INTERVALS = ("day", "week", "month", "year")


@route("POST", "/v1/products")
def create_product(ctx: Ctx) -> Obj:
    params = ctx.params
    name = req_str(params, "name")
    product_id = get_str(params, "id") or new_id("prod", 14)
    if product_id in ctx.store.objects:
        raise StripeError(
            f"Product already exists: {product_id}", code="resource_already_exists", param="id"
        )
    product = product_shape(product_id, ctx.now, name)
    _apply_product(product, params)
    price_data = get_dict(params, "default_price_data")
    if price_data:  # refuse bad price data before anything is created, as Stripe does
        _price_terms(price_data, "default_price_data")
    ctx.store.add(product, ctx.account)
    ctx.store.emit("product.created", product, ctx.account)
    if price_data:
        price = _new_price(ctx, {**price_data, "product": product_id}, "default_price_data")
        product["default_price"] = price["id"]
    return product


def _apply_product(product: Obj, params: Params) -> None:
    if "name" in params:
        product["name"] = req_str(params, "name")
    active = get_bool(params, "active")
    if active is not None:
        product["active"] = active
    for field in PRODUCT_TEXT_FIELDS:
        if field in params:
            product[field] = get_str(params, field)
    if "images" in params:
        product["images"] = [str(i) for i in get_list(params, "images")]
    if "shippable" in params:
        product["shippable"] = get_bool(params, "shippable")
    product["metadata"] = merge_metadata(product["metadata"], params)


def _product(ctx: Ctx) -> Obj:
    return ctx.store.get("product", ctx.path["id"], ctx.account)


@route("GET", "/v1/products")
def list_products(ctx: Ctx) -> Obj:
    active = get_bool(ctx.params, "active")
    ids = {str(i) for i in get_list(ctx.params, "ids")}
    return list_objects(
        ctx,
        "product",
        "/v1/products",
        None if active is None else (lambda p: p["active"] == active),
        (lambda p: p["id"] in ids) if ids else None,
        field_filter(ctx.params, "url"),
    )


@route("GET", "/v1/products/{id}")
def retrieve_product(ctx: Ctx) -> Obj:
    return _product(ctx)


@route("POST", "/v1/products/{id}")
def update_product(ctx: Ctx) -> Obj:
    product = _product(ctx)
    before = snapshot(product)
    if "default_price" in ctx.params:
        price_id = get_str(ctx.params, "default_price")
        if price_id is not None:
            price = ctx.store.get("price", price_id, ctx.account, "default_price")
            if price["product"] != product["id"]:
                raise invalid_param("default_price", "The price must belong to this product.")
        product["default_price"] = price_id
    _apply_product(product, ctx.params)
    product["updated"] = ctx.now
    ctx.store.emit("product.updated", product, ctx.account, changed(before, product))
    return product


@route("DELETE", "/v1/products/{id}")
def delete_product(ctx: Ctx) -> Obj:
    product = _product(ctx)
    has_prices = any(
        ctx.store.objects[p]["product"] == product["id"]
        for p in ctx.store.ids(ctx.account, "price")
    )
    if has_prices:
        raise StripeError(
            "This product cannot be deleted because it has one or more user-created prices.",
            param="id",
        )
    ctx.store.remove(product["id"])
    ctx.store.emit("product.deleted", product, ctx.account)
    return {"id": product["id"], "object": "product", "deleted": True}


def _price_terms(params: Params, prefix: str = "") -> tuple[str, int, Obj | None]:
    """Currency, unit amount and recurrence of a price, validated (nothing is stored)."""

    def name(field: str) -> str:
        return f"{prefix}[{field}]" if prefix else field

    currency = get_str(params, "currency")
    if currency is None:
        raise StripeError(f"Missing required param: {name('currency')}.", param=name("currency"))
    unit_amount = get_int(params, "unit_amount")
    if unit_amount is not None and unit_amount > MAX_AMOUNT:
        raise integer_too_large(name("unit_amount"))
    if unit_amount is None and params.get("unit_amount_decimal"):
        unit_amount = int(float(str(params["unit_amount_decimal"])))
    if unit_amount is None:
        raise StripeError(
            f"Missing required param: {name('unit_amount')}.", param=name("unit_amount")
        )
    if unit_amount < 0:
        raise invalid_param(name("unit_amount"), "Invalid unit_amount: must be at least 0")
    recurring = _recurring(get_dict(params, "recurring"), name("recurring"))
    return currency.lower(), unit_amount, recurring


def _new_price(ctx: Ctx, params: Params, prefix: str = "") -> Obj:
    currency, unit_amount, recurring = _price_terms(params, prefix)
    product_id = get_str(params, "product")
    product_data = get_dict(params, "product_data")
    if product_id is None and product_data:
        product = product_shape(new_id("prod", 14), ctx.now, req_str(product_data, "name"))
        product["metadata"] = merge_metadata({}, product_data)
        ctx.store.add(product, ctx.account)
        ctx.store.emit("product.created", product, ctx.account)
        product_id = product["id"]
    if product_id is None:
        raise StripeError("Missing required param: product.", param="product")
    ctx.store.get("product", product_id, ctx.account, "product")
    price = price_shape(new_id("price"), ctx.now, product_id, currency, unit_amount, recurring)
    for field in ("nickname", "tax_behavior"):
        if field in params:
            price[field] = get_str(params, field) or price[field]
    active = get_bool(params, "active")
    if active is not None:
        price["active"] = active
    price["metadata"] = merge_metadata({}, params)
    ctx.store.add(price, ctx.account)
    _set_lookup_key(ctx, price, params)
    ctx.store.emit("price.created", price, ctx.account)
    return price


def _recurring(raw: dict[str, Any], param: str) -> dict[str, Any] | None:
    if not raw:
        return None
    interval = raw.get("interval")
    if interval not in INTERVALS:
        raise invalid_param(
            f"{param}[interval]",
            f"Invalid {param}[interval]: must be one of day, week, month, year",
        )
    return {
        "interval": interval,
        "interval_count": int(raw.get("interval_count", 1)),
        "meter": None,
        "trial_period_days": None,
        "usage_type": raw.get("usage_type", "licensed"),
    }


def _set_lookup_key(ctx: Ctx, price: Obj, params: Params) -> None:
    if "lookup_key" not in params:
        return
    key = get_str(params, "lookup_key")
    if key is not None:
        for other_id in ctx.store.ids(ctx.account, "price"):
            other = ctx.store.objects[other_id]
            if other["id"] != price["id"] and other["lookup_key"] == key:
                if not get_bool(params, "transfer_lookup_key", False):
                    raise StripeError(
                        f"A price ({other['id']}) already uses that lookup key.",
                        param="lookup_key",
                    )
                other["lookup_key"] = None
    price["lookup_key"] = key


@route("POST", "/v1/prices")
def create_price(ctx: Ctx) -> Obj:
    return _new_price(ctx, ctx.params)


@route("GET", "/v1/prices")
def list_prices(ctx: Ctx) -> Obj:
    params = ctx.params
    active = get_bool(params, "active")
    lookup_keys = {str(k) for k in get_list(params, "lookup_keys")}
    interval = get_dict(params, "recurring").get("interval")
    return list_objects(
        ctx,
        "price",
        "/v1/prices",
        None if active is None else (lambda p: p["active"] == active),
        field_filter(params, "product"),
        field_filter(params, "currency"),
        field_filter(params, "type"),
        (lambda p: p["lookup_key"] in lookup_keys) if lookup_keys else None,
        (lambda p: (p["recurring"] or {}).get("interval") == interval) if interval else None,
    )


@route("GET", "/v1/prices/{id}")
def retrieve_price(ctx: Ctx) -> Obj:
    return ctx.store.get("price", ctx.path["id"], ctx.account)


@route("POST", "/v1/prices/{id}", allowed=PRICE_UPDATABLE)
def update_price(ctx: Ctx) -> Obj:
    price = ctx.store.get("price", ctx.path["id"], ctx.account)
    before = snapshot(price)
    active = get_bool(ctx.params, "active")
    if active is not None:
        price["active"] = active
    if "nickname" in ctx.params:
        price["nickname"] = get_str(ctx.params, "nickname")
    if "tax_behavior" in ctx.params:
        behavior = get_str(ctx.params, "tax_behavior")
        if price["tax_behavior"] not in ("unspecified", behavior):
            raise StripeError(
                "The tax_behavior of a price cannot be changed once set.", param="tax_behavior"
            )
        price["tax_behavior"] = behavior
    _set_lookup_key(ctx, price, ctx.params)
    price["metadata"] = merge_metadata(price["metadata"], ctx.params)
    ctx.store.emit("price.updated", price, ctx.account, changed(before, price))
    return price


@includable("price", "currency_options")
def _currency_options(store: Store, price: Obj) -> dict[str, Any]:
    """Prices here have one currency: the options are that currency's terms."""
    del store
    return {
        price["currency"]: {
            "custom_unit_amount": price["custom_unit_amount"],
            "tax_behavior": price["tax_behavior"],
            "unit_amount": price["unit_amount"],
            "unit_amount_decimal": price["unit_amount_decimal"],
        }
    }


fixed_includable("price", "tiers", None)  # prices here bill per unit, never in tiers
