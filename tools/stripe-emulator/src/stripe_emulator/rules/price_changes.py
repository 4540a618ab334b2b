"""Changing a subscription's prices or quantities mid-period, with Stripe's prorations:
`create_prorations` (the default) leaves two pending invoice items per changed item (a credit
for the unused time on the old price, a charge for the remaining time on the new one) for the
next invoice to pick up; `always_invoice` bills them at once; `none` only swaps the price, so
the next renewal bills the new one. A change of billing interval restarts the billing cycle
now and invoices at once, as on Stripe."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, invalid_param
from stripe_emulator.rules.invoicing import add_item_line, collect, finalize, new_invoice
from stripe_emulator.rules.money import percent_of
from stripe_emulator.shapes.billing import invoiceitem_shape, plan_from_price
from stripe_emulator.store import Obj, new_id

PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


def proration_behavior(params: dict[str, Any]) -> str:
    behavior = params.get("proration_behavior") or "create_prorations"
    if behavior not in PRORATION_BEHAVIORS:
        raise invalid_param(
            "proration_behavior",
            f"Invalid proration_behavior: must be one of {', '.join(PRORATION_BEHAVIORS)}",
        )
    return str(behavior)


def set_price(item: Obj, price: Obj) -> None:
    item["price"] = price
    item["plan"] = plan_from_price(price)


def _label(ctx: Ctx, price: Obj, quantity: int) -> str:
    product = ctx.store.find(price["product"] or "") or {}
    name = price.get("nickname") or product.get("name") or "subscription"
    return f"{quantity} \N{MULTIPLICATION SIGN} {name}"


def _proration_item(
    ctx: Ctx, sub: Obj, item: Obj, amount: int, description: str, start: int, quantity: int
) -> Obj:
    invoice_item = invoiceitem_shape(
        new_id("ii"), ctx.now, sub["customer"], amount, item["price"]["currency"]
    )
    invoice_item.update(description=description, proration=True, quantity=quantity)
    invoice_item["period"] = {"end": item["current_period_end"], "start": start}
    invoice_item["discountable"] = False
    invoice_item["parent"] = {
        "subscription_details": {"subscription": sub["id"], "subscription_item": item["id"]},
        "type": "subscription_details",
    }
    invoice_item["proration_details"] = {"credited_items": None}
    invoice_item["pricing"]["unit_amount_decimal"] = item["price"]["unit_amount_decimal"]
    invoice_item["pricing"]["price_details"] = {
        "price": item["price"]["id"],
        "product": item["price"]["product"],
    }
    ctx.store.add(invoice_item, ctx.account)
    ctx.store.emit("invoiceitem.created", invoice_item, ctx.account)
    return invoice_item


def prorate(
    ctx: Ctx, sub: Obj, item: Obj, old: Obj, at: int, *, credit_only: bool = False
) -> list[Obj]:
    """The credit for `old` (the item as it was) and the charge for `item` (as it is now)
    over what is left of the current period, Stripe's way: by the second, rounded half-up."""
    start, end = item["current_period_start"], item["current_period_end"]
    if end <= at or sub["customer"] is None:
        return []
    left = Decimal(end - at) / Decimal(end - start)
    day = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%d %b %Y")

    def part(price: Obj, quantity: int) -> int:
        whole = Decimal(price["unit_amount"] * quantity)
        return int((whole * left).quantize(Decimal(1), ROUND_HALF_UP))

    credit_item = {**item, "price": old["price"]}
    credit = _proration_item(
        ctx,
        sub,
        credit_item,
        -part(old["price"], old["quantity"]),
        f"Unused time on {_label(ctx, old['price'], old['quantity'])} after {day}",
        at,
        old["quantity"],
    )
    if credit_only:
        return [credit]
    charge = _proration_item(
        ctx,
        sub,
        item,
        part(item["price"], item["quantity"]),
        f"Remaining time on {_label(ctx, item['price'], item['quantity'])} after {day}",
        at,
        item["quantity"],
    )
    credit["proration_details"]["credited_items"] = {
        "invoice_item": charge["id"],
        "invoice_line_item_details": None,
        "type": "invoice_item",
    }
    return [credit, charge]


def invoice_now(ctx: Ctx, sub: Obj, items: list[Obj], billing_reason: str) -> Obj:
    """An invoice for `items` (and whatever else the subscription left pending), finalized
    now and charged or sent as the subscription collects (`always_invoice`)."""
    customer = ctx.store.find(sub["customer"] or "")
    invoice = new_invoice(
        ctx, customer, sub["currency"], billing_reason=billing_reason, subscription=sub
    )
    invoice["auto_advance"] = True
    if sub["days_until_due"] is not None:
        ctx.store.hidden(invoice["id"])["days_until_due"] = sub["days_until_due"]
    for item in items:
        add_item_line(invoice, item)
    if sub["application_fee_percent"] is not None:
        ctx.store.hidden(invoice["id"])["application_fee_amount"] = percent_of(
            max(0, invoice["total"]), Decimal(str(sub["application_fee_percent"]))
        )
    sub["latest_invoice"] = invoice["id"]
    ctx.store.emit("invoice.created", invoice, ctx.account)
    collect_now(ctx, invoice)
    return invoice


def collect_now(ctx: Ctx, invoice: Obj) -> None:
    """Finalize a draft at once, then send it or attempt its payment (a failed attempt leaves
    it open, with the subscription `past_due` as the dunning rules say)."""
    finalize(ctx, invoice)
    if invoice["status"] != "open":
        return
    if invoice["collection_method"] == "send_invoice":
        ctx.store.emit("invoice.sent", invoice, ctx.account)
        return
    with contextlib.suppress(StripeError):  # nothing to charge: the invoice stays open
        collect(ctx, invoice, None, automatic=True)
