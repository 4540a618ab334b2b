"""Invoice items: pending charges that the next (or a named draft) invoice picks up."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import (
    MAX_AMOUNT,
    StripeError,
    amount_too_large,
    integer_too_large,
    missing_param,
)
from stripe_emulator.forms import get_bool, get_dict, get_int, get_str, merge_metadata
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.customers import get_customer
from stripe_emulator.rules.invoicing import add_item_line, recompute
from stripe_emulator.shapes.billing import invoiceitem_shape
from stripe_emulator.store import Obj, new_id


@route("POST", "/v1/invoiceitems")
def create_invoice_item(ctx: Ctx) -> Obj:
    params = ctx.params
    customer = get_customer(ctx, params.get("customer"), "customer")
    quantity = get_int(params, "quantity") or 1
    amount = get_int(params, "amount")
    unit_amount = get_int(params, "unit_amount")
    price_id = get_str(params, "price") or get_dict(params, "pricing").get("price")
    currency = get_str(params, "currency")
    price = None
    if price_id:
        price = ctx.store.get("price", price_id, ctx.account, "price")
        unit_amount = price["unit_amount"]
        currency = price["currency"]
    if amount is None and unit_amount is not None:
        amount = unit_amount * quantity
    if amount is None:
        raise missing_param("amount")
    if currency is None:
        currency = customer["currency"] or "usd"
    if unit_amount is not None and abs(unit_amount) > MAX_AMOUNT:
        raise integer_too_large("unit_amount")
    if abs(amount) > MAX_AMOUNT:
        raise amount_too_large("amount", currency)
    item = invoiceitem_shape(new_id("ii"), ctx.now, customer["id"], amount, currency.lower())
    item["quantity"] = quantity
    item["description"] = get_str(params, "description")
    item["metadata"] = merge_metadata({}, params)
    item["pricing"]["unit_amount_decimal"] = str(unit_amount if unit_amount is not None else amount)
    if price is not None:
        item["pricing"]["price_details"] = {"price": price["id"], "product": price["product"]}
    period = get_dict(params, "period")
    if period:
        item["period"] = {"end": int(period["end"]), "start": int(period["start"])}
    discountable = get_bool(params, "discountable")
    if discountable is not None:
        item["discountable"] = discountable
    ctx.store.add(item, ctx.account)
    invoice_id = get_str(params, "invoice")
    if invoice_id is not None:
        invoice = ctx.store.get("invoice", invoice_id, ctx.account, "invoice")
        if invoice["status"] != "draft":
            raise StripeError(
                "You can only add invoice items to draft invoices.",
                code="invoice_not_editable",
                param="invoice",
            )
        add_item_line(invoice, item)
    ctx.store.emit("invoiceitem.created", item, ctx.account)
    return item


def _item(ctx: Ctx) -> Obj:
    return ctx.store.get("invoiceitem", ctx.path["id"], ctx.account)


def _draft_invoice_of(ctx: Ctx, item: Obj) -> Obj | None:
    if item["invoice"] is None:
        return None
    invoice = ctx.store.objects[item["invoice"]]
    if invoice["status"] != "draft":
        raise StripeError(
            "This invoice item is attached to a finalized invoice and can't be changed.",
            code="invoice_not_editable",
        )
    return invoice


def _line_of(invoice: Obj, item: Obj) -> Obj | None:
    for line in invoice["lines"]["data"]:
        details = (line["parent"] or {}).get("invoice_item_details") or {}
        if details.get("invoice_item") == item["id"]:
            found: Obj = line
            return found
    return None


@route("GET", "/v1/invoiceitems")
def list_invoice_items(ctx: Ctx) -> Obj:
    pending = get_bool(ctx.params, "pending")
    return list_objects(
        ctx,
        "invoiceitem",
        "/v1/invoiceitems",
        field_filter(ctx.params, "customer"),
        field_filter(ctx.params, "invoice"),
        None if pending is None else (lambda i: (i["invoice"] is None) == pending),
    )


@route("GET", "/v1/invoiceitems/{id}")
def retrieve_invoice_item(ctx: Ctx) -> Obj:
    return _item(ctx)


@route("POST", "/v1/invoiceitems/{id}")
def update_invoice_item(ctx: Ctx) -> Obj:
    item = _item(ctx)
    invoice = _draft_invoice_of(ctx, item)
    amount = get_int(ctx.params, "amount")
    if amount is not None and abs(amount) > MAX_AMOUNT:
        raise amount_too_large("amount", item["currency"])
    if amount is not None:
        item["amount"] = item["net_amount"] = amount
        item["pricing"]["unit_amount_decimal"] = str(amount // max(1, item["quantity"]))
    if "description" in ctx.params:
        item["description"] = get_str(ctx.params, "description")
    item["metadata"] = merge_metadata(item["metadata"], ctx.params)
    if invoice is not None:
        line = _line_of(invoice, item)
        if line is not None:
            line.update(amount=item["amount"], description=item["description"])
            line["metadata"] = dict(item["metadata"])
        recompute(invoice)
    ctx.store.emit("invoiceitem.updated", item, ctx.account)
    return item


@route("DELETE", "/v1/invoiceitems/{id}")
def delete_invoice_item(ctx: Ctx) -> Obj:
    item = _item(ctx)
    invoice = _draft_invoice_of(ctx, item)
    if invoice is not None:
        line = _line_of(invoice, item)
        if line is not None:
            invoice["lines"]["data"].remove(line)
        recompute(invoice)
    ctx.store.remove(item["id"])
    ctx.store.emit("invoiceitem.deleted", item, ctx.account)
    return {"id": item["id"], "object": "invoiceitem", "deleted": True}
