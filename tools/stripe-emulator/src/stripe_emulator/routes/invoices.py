"""Invoice endpoints: create, update, finalize, send, pay, void, uncollectible, lists."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, invalid_param
from stripe_emulator.expansion import includable
from stripe_emulator.forms import (
    Params,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    merge_metadata,
)
from stripe_emulator.routing import action_route, field_filter, list_objects, route
from stripe_emulator.rules.customers import get_customer
from stripe_emulator.rules.invoicing import (
    FINALIZE_DELAY,
    add_item_line,
    collect,
    finalize,
    mark_paid,
    mark_uncollectible,
    new_invoice,
    void,
)
from stripe_emulator.rules.payment_methods import resolve_payment_method
from stripe_emulator.store import Obj, Store

COLLECTION_METHODS = ("charge_automatically", "send_invoice")


def _invoice(ctx: Ctx) -> Obj:
    return ctx.store.get("invoice", ctx.path["id"], ctx.account)


def _apply_settings(ctx: Ctx, invoice: Obj, params: Params) -> None:
    method = get_str(params, "collection_method")
    if method is not None:
        if method not in COLLECTION_METHODS:
            raise invalid_param("collection_method", f"Invalid collection_method: {method}")
        invoice["collection_method"] = method
    days = get_int(params, "days_until_due")
    due_date = get_int(params, "due_date")
    if (days is not None or due_date is not None) and invoice[
        "collection_method"
    ] != "send_invoice":
        raise StripeError(
            "Invoices with `collection_method=charge_automatically` cannot have a due date.",
            param="days_until_due" if days is not None else "due_date",
        )
    if days is not None:
        ctx.store.hidden(invoice["id"])["days_until_due"] = days
    if due_date is not None:
        invoice["due_date"] = due_date
    fee = get_int(params, "application_fee_amount")
    if fee is not None:
        if not ctx.connected:
            raise StripeError(
                "Can only apply an application_fee_amount when the request is made on behalf of "
                "another account (using an OAuth key, the Stripe-Account header, or the "
                "on_behalf_of parameter).",
                param="application_fee_amount",
            )
        ctx.store.hidden(invoice["id"])["application_fee_amount"] = fee
    auto_advance = get_bool(params, "auto_advance")
    if auto_advance is not None:
        invoice["auto_advance"] = auto_advance
    for field in ("description", "footer", "statement_descriptor"):
        if field in params:
            invoice[field] = get_str(params, field)
    if "default_payment_method" in params:
        pm_id = get_str(params, "default_payment_method")
        invoice["default_payment_method"] = (
            resolve_payment_method(ctx, pm_id, "default_payment_method")["id"] if pm_id else None
        )
    types = get_list(get_dict(params, "payment_settings"), "payment_method_types")
    if types:
        invoice["payment_settings"]["payment_method_types"] = [str(t) for t in types]
    invoice["metadata"] = merge_metadata(invoice["metadata"], params)


@route("POST", "/v1/invoices")
def create_invoice(ctx: Ctx) -> Obj:
    params = ctx.params
    customer = get_customer(ctx, params.get("customer"), "customer")
    currency = (get_str(params, "currency") or customer["currency"] or "usd").lower()
    invoice = new_invoice(ctx, customer, currency)
    _apply_settings(ctx, invoice, params)
    if get_str(params, "subscription"):
        sub = ctx.store.get("subscription", params["subscription"], ctx.account, "subscription")
        invoice["subscription"] = sub["id"]
    if (get_str(params, "pending_invoice_items_behavior") or "exclude") == "include":
        for item_id in ctx.store.ids(ctx.account, "invoiceitem"):
            item = ctx.store.objects[item_id]
            if item["customer"] == customer["id"] and item["invoice"] is None:
                add_item_line(invoice, item)
    if invoice["auto_advance"]:
        invoice["automatically_finalizes_at"] = ctx.now + FINALIZE_DELAY
    ctx.store.emit("invoice.created", invoice, ctx.account)
    return invoice


@route("GET", "/v1/invoices")
def list_invoices(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "invoice",
        "/v1/invoices",
        field_filter(ctx.params, "customer"),
        field_filter(ctx.params, "subscription"),
        field_filter(ctx.params, "status"),
        field_filter(ctx.params, "collection_method"),
    )


@route("GET", "/v1/invoices/{id}")
def retrieve_invoice(ctx: Ctx) -> Obj:
    return _invoice(ctx)


@route("POST", "/v1/invoices/{id}")
def update_invoice(ctx: Ctx) -> Obj:
    invoice = _invoice(ctx)
    if invoice["status"] != "draft":
        allowed = {"metadata", "description", "footer", "auto_advance", "expand"}
        extra = [k for k in ctx.params if k not in allowed]
        if extra:
            raise StripeError(
                f"Finalized invoices can't be updated in this way ({extra[0]}).",
                code="invoice_not_editable",
                param=extra[0],
            )
    before = {
        k: invoice[k] for k in ("metadata", "description", "collection_method", "auto_advance")
    }
    _apply_settings(ctx, invoice, ctx.params)
    previous = {k: v for k, v in before.items() if invoice[k] != v}
    ctx.store.emit("invoice.updated", invoice, ctx.account, previous)
    return invoice


@route("DELETE", "/v1/invoices/{id}")
def delete_invoice(ctx: Ctx) -> Obj:
    invoice = _invoice(ctx)
    if invoice["status"] != "draft":
        raise StripeError("You can only delete draft invoices.", code="invoice_not_editable")
    for line in invoice["lines"]["data"]:
        details = (line["parent"] or {}).get("invoice_item_details")
        if details and details["invoice_item"] in ctx.store.objects:
            ctx.store.objects[details["invoice_item"]]["invoice"] = None
    ctx.store.remove(invoice["id"])
    ctx.store.emit("invoice.deleted", invoice, ctx.account)
    return {"id": invoice["id"], "object": "invoice", "deleted": True}


@route("POST", "/v1/invoices/{id}/finalize")
def finalize_invoice(ctx: Ctx) -> Obj:
    invoice = _invoice(ctx)
    auto_advance = get_bool(ctx.params, "auto_advance")
    if auto_advance is not None:
        invoice["auto_advance"] = auto_advance
    finalize(ctx, invoice)
    automatic = invoice["collection_method"] == "charge_automatically"
    if invoice["auto_advance"] and invoice["status"] == "open" and automatic:
        invoice["next_payment_attempt"] = ctx.now + FINALIZE_DELAY
    return invoice


@route("POST", "/v1/invoices/{id}/send")
def send_invoice(ctx: Ctx) -> Obj:
    invoice = _invoice(ctx)
    if invoice["collection_method"] != "send_invoice":
        raise StripeError(
            "You can only manually send an invoice if its collection method is 'send_invoice'.",
            code="invoice_not_editable",
        )
    if invoice["status"] == "draft":
        finalize(ctx, invoice)
    if invoice["status"] != "open":
        raise StripeError("You can only send an open invoice.", code="invoice_not_editable")
    ctx.store.emit("invoice.sent", invoice, ctx.account)
    return invoice


@route("POST", "/v1/invoices/{id}/pay")
def pay_invoice(ctx: Ctx) -> Obj:
    invoice = _invoice(ctx)
    if get_bool(ctx.params, "paid_out_of_band", False):
        if invoice["status"] == "draft":
            finalize(ctx, invoice)
        if invoice["status"] not in ("open", "uncollectible"):
            raise StripeError("Invoice is already paid", code="invoice_already_paid")
        mark_paid(ctx, invoice, None, out_of_band=True)
        return invoice
    pm_id = get_str(ctx.params, "payment_method")
    pm = None
    if pm_id is not None:
        customer = ctx.store.find(invoice["customer"] or "")
        pm = resolve_payment_method(ctx, pm_id, "payment_method", customer)
    outcome = collect(ctx, invoice, pm, automatic=False)
    if outcome.error is not None:
        raise outcome.error
    return invoice


void_invoice = action_route("/v1/invoices/{id}/void", "invoice", void)
mark_invoice_uncollectible = action_route(
    "/v1/invoices/{id}/mark_uncollectible", "invoice", mark_uncollectible
)


@route("GET", "/v1/invoices/{id}/lines")
def list_invoice_lines(ctx: Ctx) -> Obj:
    invoice = _invoice(ctx)
    return list_objects(
        ctx,
        "line_item",
        f"/v1/invoices/{invoice['id']}/lines",
        items=list(reversed(invoice["lines"]["data"])),
    )


# invoice payments ------------------------------------------------------------------
@includable("invoice", "payments")
def _payments_of(store: Store, invoice: Obj) -> Obj:
    account = store.owner.get(invoice["id"], store.platform_id)
    data = [
        store.objects[p]
        for p in reversed(store.ids(account, "invoice_payment"))
        if store.objects[p]["invoice"] == invoice["id"]
    ]
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "url": f"/v1/invoice_payments?invoice={invoice['id']}",
    }


@route("GET", "/v1/invoice_payments")
def list_invoice_payments(ctx: Ctx) -> Obj:
    payment = get_dict(ctx.params, "payment")
    pi_id = payment.get("payment_intent")
    return list_objects(
        ctx,
        "invoice_payment",
        "/v1/invoice_payments",
        field_filter(ctx.params, "invoice"),
        field_filter(ctx.params, "status"),
        (lambda p: p["payment"].get("payment_intent") == pi_id) if pi_id else None,
    )


@route("GET", "/v1/invoice_payments/{id}")
def retrieve_invoice_payment(ctx: Ctx) -> Obj:
    return ctx.store.get("invoice_payment", ctx.path["id"], ctx.account)
