"""Subscription status follows its invoices: paid → active, failed → past_due, then the
platform's `subscription_failed_payment_action` once retries run out."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.store import Obj


def cancel(ctx: Ctx, sub: Obj, reason: str) -> None:
    sub.update(status="canceled", canceled_at=ctx.now, ended_at=ctx.now)
    sub["cancellation_details"]["reason"] = reason
    ctx.store.emit("customer.subscription.deleted", sub, ctx.account)


def set_status(ctx: Ctx, sub: Obj, status: str) -> None:
    if sub["status"] == status:
        return
    previous = {"status": sub["status"]}
    sub["status"] = status
    ctx.store.emit("customer.subscription.updated", sub, ctx.account, previous)


def on_invoice_paid(ctx: Ctx, invoice: Obj) -> None:
    sub = ctx.store.find(invoice["subscription"] or "")
    if sub is None or sub["status"] not in ("incomplete", "past_due", "unpaid"):
        return
    still_open = any(
        ctx.store.objects[i]["subscription"] == sub["id"]
        and ctx.store.objects[i]["status"] == "open"
        for i in ctx.store.ids(ctx.account, "invoice")
    )
    if not still_open:
        set_status(ctx, sub, "active")


def on_invoice_payment_failed(ctx: Ctx, invoice: Obj) -> None:
    sub = ctx.store.find(invoice["subscription"] or "")
    if sub is None or invoice["billing_reason"] == "subscription_create":
        return
    if sub["status"] in ("active", "trialing"):
        set_status(ctx, sub, "past_due")
    if invoice["next_payment_attempt"] is None and sub["status"] == "past_due":
        if ctx.store.hidden(invoice["id"]).get("retry_kind") == "stripe_balance":
            return
        action = ctx.store.settings["subscription_failed_payment_action"]
        if action == "cancel":
            cancel(ctx, sub, "payment_failed")
        elif action == "unpaid":
            set_status(ctx, sub, "unpaid")


def on_invoice_overdue(ctx: Ctx, invoice: Obj) -> None:
    sub = ctx.store.find(invoice["subscription"] or "")
    if sub is not None and sub["status"] == "active":
        set_status(ctx, sub, "past_due")


def on_invoice_still_overdue(ctx: Ctx, invoice: Obj) -> None:
    """`send_invoice_past_due_days` after the due date, still unpaid: the subscription is
    canceled or unpaid as the platform's `send_invoice_past_due_action` says (`past_due`:
    left as it is)."""
    sub = ctx.store.find(invoice["subscription"] or "")
    if sub is None or sub["status"] != "past_due":
        return
    action = ctx.store.settings.get("send_invoice_past_due_action", "past_due")
    if action == "cancel":
        cancel(ctx, sub, "payment_failed")
    elif action == "unpaid":
        set_status(ctx, sub, "unpaid")
