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
from stripe_emulator.forms import merge_metadata
from stripe_emulator.rules.dates import add_period
from stripe_emulator.rules.invoicing import add_item_line, collect, finalize, new_invoice
from stripe_emulator.rules.money import percent_of
from stripe_emulator.rules.subscriptions import subscription_invoice
from stripe_emulator.shapes.billing import (
    invoiceitem_shape,
    plan_from_price,
    subscription_item_shape,
)
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
    ctx: Ctx,
    sub: Obj,
    item: Obj | None,
    old: Obj | None,
    at: int,
) -> list[Obj]:
    """The credit for `old` (the item as it was; none when added) and the charge for `item`
    (as it is now; none when removed) over what is left of the current period, Stripe's way:
    by the second, rounded half-up."""
    periods = item or old
    if periods is None or sub["customer"] is None:
        return []
    start, end = periods["current_period_start"], periods["current_period_end"]
    if end <= at:
        return []
    left = Decimal(end - at) / Decimal(end - start)
    day = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%d %b %Y")

    def part(price: Obj, quantity: int) -> int:
        whole = Decimal(price["unit_amount"] * quantity)
        return int((whole * left).quantize(Decimal(1), ROUND_HALF_UP))

    made = []
    if old is not None:
        credit = _proration_item(
            ctx,
            sub,
            {**periods, "price": old["price"]},
            -part(old["price"], old["quantity"]),
            f"Unused time on {_label(ctx, old['price'], old['quantity'])} after {day}",
            at,
            old["quantity"],
        )
        credit["proration_details"]["credited_items"] = _debited_lines(ctx, sub, old)
        made.append(credit)
    if item is not None:
        made.append(
            _proration_item(
                ctx,
                sub,
                item,
                part(item["price"], item["quantity"]),
                f"Remaining time on {_label(ctx, item['price'], item['quantity'])} after {day}",
                at,
                item["quantity"],
            )
        )
    return made


def _debited_lines(ctx: Ctx, sub: Obj, old: Obj) -> dict[str, Any] | None:
    """What the credit gives back: the latest invoice's line that billed the old item."""
    invoice = ctx.store.find(sub["latest_invoice"] or "")
    if invoice is None:
        return None
    lines = [
        line["id"]
        for line in invoice["lines"]["data"]
        if (line["parent"].get("subscription_item_details") or {}).get("subscription_item")
        == old["id"]
    ]
    if not lines:
        return None
    return {
        "invoice_item": None,
        "invoice_line_item_details": {"invoice": invoice["id"], "invoice_line_items": lines},
        "type": "invoice_line_items",
    }


Change = tuple[Obj | None, Obj | None]
"""A subscription item as it is now (none: removed) and as it was (none: added)."""


def change_items(ctx: Ctx, sub: Obj, raw_items: list[Any]) -> list[Change]:
    """Apply `items[]`: `{id, price?, quantity?}` changes an item, `{id, deleted: true}`
    removes it, `{price, quantity?}` adds one for the current period. All items keep one
    currency and one billing interval, and at least one stays."""
    changes: list[Change] = []
    first = sub["items"]["data"][0]
    period = (first["current_period_start"], first["current_period_end"])
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise invalid_param(f"items[{index}]", "Each item must be a hash.")
        if not raw.get("id"):
            changes.append((_add_item(ctx, sub, raw, index, period), None))
            continue
        item = next((i for i in sub["items"]["data"] if i["id"] == raw["id"]), None)
        if item is None:
            raise invalid_param(f"items[{index}][id]", f"No such subscription item: {raw['id']}")
        if str(raw.get("deleted")).lower() == "true":
            sub["items"]["data"].remove(item)
            changes.append((None, item))
            continue
        old = dict(item)
        if raw.get("price"):
            set_price(item, _recurring_price(ctx, sub, raw["price"], index))
        if raw.get("quantity") not in (None, ""):
            item["quantity"] = int(raw["quantity"])
        item["metadata"] = merge_metadata(item["metadata"], raw)
        if (item["price"]["id"], item["quantity"]) != (old["price"]["id"], old["quantity"]):
            changes.append((item, old))
    items = sub["items"]["data"]
    if not items:
        raise invalid_param("items", "A subscription must have at least one active plan.")
    if len({interval_of_item(i) for i in items}) > 1:
        raise invalid_param(
            "items",
            "Currency and interval fields must match across all plans on this subscription.",
        )
    return changes


def _recurring_price(ctx: Ctx, sub: Obj, price_id: str, index: int) -> Obj:
    price = ctx.store.get("price", price_id, ctx.account, f"items[{index}][price]")
    if price["recurring"] is None or price["currency"] != sub["currency"]:
        raise invalid_param(
            f"items[{index}][price]",
            f"The price specified ({price['id']}) must be recurring and in the subscription's "
            f"currency ({sub['currency']}).",
        )
    return price


def _add_item(ctx: Ctx, sub: Obj, raw: dict[str, Any], index: int, period: tuple[int, int]) -> Obj:
    if not raw.get("price"):
        raise invalid_param(f"items[{index}][price]", "A new item needs items[n][price].")
    price = _recurring_price(ctx, sub, raw["price"], index)
    quantity = int(raw.get("quantity") or 1)
    item = subscription_item_shape(new_id("si", 14), ctx.now, sub["id"], price, quantity, *period)
    item["metadata"] = merge_metadata({}, raw)
    sub["items"]["data"].append(item)
    return item


def interval_of_item(item: Obj) -> tuple[str, int]:
    recurring = item["price"]["recurring"]
    return recurring["interval"], recurring["interval_count"]


def interval_of(sub: Obj) -> tuple[str, int]:
    return interval_of_item(sub["items"]["data"][0])


def restart_cycle(ctx: Ctx, sub: Obj, changes: list[Change], behavior: str, at: int) -> None:
    """A new billing interval: the cycle restarts now and is invoiced at once (with a credit
    for the unused time on the old prices unless `proration_behavior=none`)."""
    if behavior != "none":
        for _, old in changes:
            prorate(ctx, sub, None, old, at)
    sub["billing_cycle_anchor"] = ctx.now
    for item in sub["items"]["data"]:
        interval, count = interval_of_item(item)
        item["current_period_start"] = ctx.now
        item["current_period_end"] = add_period(ctx.now, interval, count, ctx.now)
    invoice = subscription_invoice(ctx, sub, "subscription_update")
    collect_now(ctx, invoice)


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
