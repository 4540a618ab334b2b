"""A subscription's billing cycle: its periods, the invoice each period opens, renewal."""

from __future__ import annotations

from decimal import Decimal

from stripe_emulator.context import Ctx
from stripe_emulator.rules.dates import add_period
from stripe_emulator.rules.invoicing import (
    FINALIZE_DELAY,
    add_item_line,
    add_subscription_line,
    new_invoice,
)
from stripe_emulator.rules.money import percent_of
from stripe_emulator.rules.schedules import enter_phase_at
from stripe_emulator.rules.subscription_status import cancel
from stripe_emulator.store import Obj


def subscription_invoice(ctx: Ctx, sub: Obj, billing_reason: str, *, emit: bool = True) -> Obj:
    customer = ctx.store.find(sub["customer"] or "")
    invoice = new_invoice(
        ctx, customer, sub["currency"], billing_reason=billing_reason, subscription=sub
    )
    invoice["auto_advance"] = True
    for item in sub["items"]["data"]:
        add_subscription_line(invoice, sub, item)
    if customer is not None:
        for item_id in ctx.store.ids(ctx.account, "invoiceitem"):
            pending = ctx.store.objects[item_id]
            if pending["customer"] == customer["id"] and pending["invoice"] is None:
                add_item_line(invoice, pending)
    if sub["days_until_due"] is not None:
        ctx.store.hidden(invoice["id"])["days_until_due"] = sub["days_until_due"]
    if sub["application_fee_percent"] is not None:
        ctx.store.hidden(invoice["id"])["application_fee_amount"] = percent_of(
            invoice["total"], Decimal(str(sub["application_fee_percent"]))
        )
    sub["latest_invoice"] = invoice["id"]
    if emit:
        ctx.store.emit("invoice.created", invoice, ctx.account)
    return invoice


def renew(ctx: Ctx, sub: Obj) -> None:
    if sub["cancel_at_period_end"]:
        cancel(ctx, sub, "cancellation_requested")
        return
    previous_items = [dict(i) for i in sub["items"]["data"]]
    had_schedule, had_invoice = sub["schedule"], sub["latest_invoice"]
    enter_phase_at(ctx, sub, sub["items"]["data"][0]["current_period_end"])
    if sub["status"] == "canceled":
        return
    for item in sub["items"]["data"]:
        recurring = item["price"]["recurring"]
        start = item["current_period_end"]
        item["current_period_start"] = start
        item["current_period_end"] = add_period(
            start, recurring["interval"], recurring["interval_count"], sub["billing_cycle_anchor"]
        )
    invoice = subscription_invoice(ctx, sub, "subscription_cycle")
    if sub["status"] == "incomplete":
        invoice["auto_advance"] = False  # stays draft while the first invoice is unpaid
    else:
        invoice["automatically_finalizes_at"] = ctx.now + FINALIZE_DELAY
    previous: dict[str, object] = {"items": {"data": previous_items}, "latest_invoice": had_invoice}
    if sub["schedule"] != had_schedule:
        previous["schedule"] = had_schedule
    ctx.store.emit("customer.subscription.updated", sub, ctx.account, previous)
