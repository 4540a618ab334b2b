"""Invoice rules: lines and totals, finalization, collection with retries, void, uncollectible."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.rules.money import (
    DAY,
    Outcome,
    charge_intent,
    new_payment_intent,
    require_charges_enabled,
)
from stripe_emulator.rules.subscription_status import on_invoice_paid, on_invoice_payment_failed
from stripe_emulator.shapes.billing import invoice_payment_shape, invoice_shape, line_item_shape
from stripe_emulator.store import Obj, new_id

CARD_RETRY_DAYS = (3, 5, 7)
FINALIZE_DELAY = 3600


def new_invoice(
    ctx: Ctx,
    customer: Obj | None,
    currency: str,
    *,
    billing_reason: str = "manual",
    subscription: Obj | None = None,
) -> Obj:
    invoice = invoice_shape(new_id("in"), ctx.now, customer, currency)
    invoice["billing_reason"] = billing_reason
    if customer is not None and customer.get("email"):
        invoice["customer_email"] = customer["email"]
    if subscription is not None:
        invoice["subscription"] = subscription["id"]
        invoice["customer_account"] = subscription.get("customer_account")
        invoice["parent"] = {
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(subscription["metadata"]),
                "subscription": subscription["id"],
            },
            "type": "subscription_details",
        }
        invoice["collection_method"] = subscription["collection_method"]
        invoice["payment_settings"]["payment_method_types"] = subscription["payment_settings"][
            "payment_method_types"
        ]
    ctx.store.add(invoice, ctx.account)
    return invoice


def add_item_line(invoice: Obj, item: Obj) -> None:
    item["invoice"] = invoice["id"]
    subscription = ((item["parent"] or {}).get("subscription_details") or {}).get("subscription")
    parent = {
        "invoice_item_details": {
            "invoice_item": item["id"],
            "proration": item["proration"],
            "proration_details": {"credited_items": None},
            "subscription": subscription,
        },
        "subscription_item_details": None,
        "type": "invoice_item_details",
    }
    line = line_item_shape(
        new_id("il"),
        invoice["id"],
        item["amount"],
        item["currency"],
        item["description"],
        dict(item["period"]),
        item["quantity"],
        parent,
        item["pricing"]["unit_amount_decimal"],
        subscription=subscription,
    )
    line["metadata"] = dict(item["metadata"])
    invoice["lines"]["data"].append(line)
    recompute(invoice)


def add_subscription_line(invoice: Obj, sub: Obj, item: Obj) -> None:
    price = item["price"]
    parent = {
        "invoice_item_details": None,
        "subscription_item_details": {
            "invoice_item": None,
            "proration": False,
            "proration_details": {"credited_items": None},
            "subscription": sub["id"],
            "subscription_item": item["id"],
        },
        "type": "subscription_item_details",
    }
    period = {"end": item["current_period_end"], "start": item["current_period_start"]}
    line = line_item_shape(
        new_id("il"),
        invoice["id"],
        price["unit_amount"] * item["quantity"],
        price["currency"],
        f"{item['quantity']} x {price.get('nickname') or 'subscription'}",
        period,
        item["quantity"],
        parent,
        price["unit_amount_decimal"],
        subscription=sub["id"],
    )
    line["pricing"]["price_details"] = {"price": price["id"], "product": price["product"]}
    invoice["lines"]["data"].append(line)
    invoice["period_start"], invoice["period_end"] = period["start"], period["end"]
    recompute(invoice)


def recompute(invoice: Obj) -> None:
    total = sum(line["amount"] for line in invoice["lines"]["data"])
    invoice.update(subtotal=total, subtotal_excluding_tax=total, total=total)
    invoice["total_excluding_tax"] = total
    invoice["amount_due"] = total
    invoice["amount_remaining"] = max(0, total - invoice["amount_paid"])


def finalize(ctx: Ctx, invoice: Obj) -> None:
    if invoice["status"] != "draft":
        raise StripeError(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    store = ctx.store
    now = ctx.now
    customer = store.find(invoice["customer"] or "")
    if customer is not None:
        seq = customer["next_invoice_sequence"]
        invoice["number"] = f"{customer['invoice_prefix']}-{seq:04d}"
        customer["next_invoice_sequence"] = seq + 1
    else:
        invoice["number"] = f"EMU-{len(store.ids(ctx.account, 'invoice')):04d}"
    invoice["status"] = "open"
    invoice["status_transitions"]["finalized_at"] = now
    invoice["effective_at"] = now
    invoice["automatically_finalizes_at"] = None
    invoice["hosted_invoice_url"] = f"{ctx.base_url}/invoice/{invoice['id']}"
    invoice["invoice_pdf"] = f"{ctx.base_url}/invoice/{invoice['id']}/pdf"
    invoice["webhooks_delivered_at"] = now
    if invoice["collection_method"] == "send_invoice":
        days = (
            invoice.get("days_until_due") or store.hidden(invoice["id"]).get("days_until_due") or 30
        )
        invoice["due_date"] = invoice["due_date"] or now + int(days) * DAY
    hidden = store.hidden(invoice["id"])
    if invoice["amount_due"] > 0:
        pi = new_payment_intent(
            ctx,
            invoice["amount_due"],
            invoice["currency"],
            invoice["customer"],
            hidden.get("application_fee_amount"),
        )
        pi["description"] = _pi_description(invoice)
        types = invoice["payment_settings"]["payment_method_types"]
        if types:
            pi["payment_method_types"] = list(types)
        hidden["payment_intent"] = pi["id"]
        payment = invoice_payment_shape(
            new_id("inpay"),
            now,
            invoice["id"],
            invoice["amount_due"],
            invoice["currency"],
            pi["id"],
        )
        store.add(payment, ctx.account)
        hidden["invoice_payment"] = payment["id"]
        store.emit("payment_intent.created", pi, ctx.account)
    store.emit("invoice.finalized", invoice, ctx.account)
    if invoice["amount_due"] == 0:
        mark_paid(ctx, invoice, None)


def _pi_description(invoice: Obj) -> str:
    reason = invoice["billing_reason"]
    if reason == "subscription_create":
        return "Subscription creation"
    if reason.startswith("subscription"):
        return "Subscription update"
    return f"Invoice {invoice['number']}"


def payment_method_for(ctx: Ctx, invoice: Obj) -> Obj | None:
    store = ctx.store
    sub = store.find(invoice["subscription"] or "")
    customer = store.find(invoice["customer"] or "")
    for pm_id in (
        invoice["default_payment_method"],
        sub["default_payment_method"] if sub else None,
        customer["invoice_settings"]["default_payment_method"] if customer else None,
    ):
        if pm_id and pm_id in store.objects:
            return store.objects[pm_id]
    return None


def collect(ctx: Ctx, invoice: Obj, pm: Obj | None, *, automatic: bool) -> Outcome:
    """One payment attempt. Updates invoice, intent and subscription; never raises a decline."""
    if invoice["status"] == "draft":
        finalize(ctx, invoice)
    if invoice["status"] == "paid":
        raise StripeError("Invoice is already paid", code="invoice_already_paid")
    if invoice["status"] == "void":
        raise StripeError(
            "This invoice has been voided and cannot be paid.", code="invoice_not_editable"
        )
    pm = pm or payment_method_for(ctx, invoice)
    if pm is None:
        raise StripeError(
            "This customer has no attached payment source or default payment method. Please "
            "consider adding a default payment method.",
            code="invoice_no_payment_method_types" if automatic else "missing",
        )
    require_charges_enabled(ctx)
    hidden = ctx.store.hidden(invoice["id"])
    pi = ctx.store.objects[hidden["payment_intent"]]
    pi["amount"] = invoice["amount_remaining"]
    outcome = charge_intent(ctx, pi, pm)
    invoice["attempt_count"] += 1
    invoice["attempted"] = True
    if outcome.succeeded:
        mark_paid(ctx, invoice, outcome.charge)
        return outcome
    hidden.setdefault("first_failure_at", ctx.now)
    hidden["retry_kind"] = "stripe_balance" if pm["type"] == "stripe_balance" else "card"
    invoice["next_payment_attempt"] = (
        next_attempt(invoice, hidden) if invoice["auto_advance"] else None
    )
    ctx.store.emit("invoice.payment_failed", invoice, ctx.account)
    ctx.store.emit(
        "invoice.updated", invoice, ctx.account, {"attempt_count": invoice["attempt_count"] - 1}
    )
    on_invoice_payment_failed(ctx, invoice)
    return outcome


def next_attempt(invoice: Obj, hidden: dict[str, Any]) -> int | None:
    """Stripe's retry schedules: cards on days 3/5/7; balance at +24 h, then next Sunday."""
    first = int(hidden["first_failure_at"])
    attempts = invoice["attempt_count"]
    if hidden["retry_kind"] == "stripe_balance":
        if attempts == 1:
            return first + DAY
        if attempts == 2:
            retry = dt.datetime.fromtimestamp(first + DAY, dt.UTC)
            days = (6 - retry.weekday()) % 7 or 7
            return int((retry + dt.timedelta(days=days)).timestamp())
        return None
    if invoice["billing_reason"] == "subscription_create":
        return None
    if attempts <= len(CARD_RETRY_DAYS):
        return first + CARD_RETRY_DAYS[attempts - 1] * DAY
    return None


def mark_paid(ctx: Ctx, invoice: Obj, charge: Obj | None, *, out_of_band: bool = False) -> None:
    store = ctx.store
    now = ctx.now
    previous = {"status": invoice["status"], "amount_paid": invoice["amount_paid"]}
    invoice["amount_paid"] = invoice["amount_due"]
    invoice["amount_remaining"] = 0
    invoice["status"] = "paid"
    invoice["status_transitions"]["paid_at"] = now
    invoice["next_payment_attempt"] = None
    invoice["auto_advance"] = False
    hidden = store.hidden(invoice["id"])
    payment = store.find(hidden.get("invoice_payment", ""))
    if payment is not None:
        payment.update(status="paid", amount_paid=invoice["amount_due"])
        payment["status_transitions"]["paid_at"] = now
        if out_of_band:
            payment["payment"] = {"type": "out_of_band_payment"}
            pi = store.find(hidden["payment_intent"])
            if pi is not None and pi["status"] != "succeeded":
                pi.update(status="canceled", canceled_at=now, cancellation_reason="void_invoice")
    store.emit("invoice.updated", invoice, ctx.account, previous)
    store.emit("invoice.paid", invoice, ctx.account)
    store.emit("invoice.payment_succeeded", invoice, ctx.account)
    if payment is not None:
        store.emit("invoice_payment.paid", payment, ctx.account)
    on_invoice_paid(ctx, invoice)
    del charge


def void(ctx: Ctx, invoice: Obj) -> None:
    if invoice["status"] not in ("open", "uncollectible"):
        raise StripeError(
            f"You can only void an open or uncollectible invoice; this invoice is "
            f"{invoice['status']}.",
            code="invoice_not_editable",
        )
    previous = {"status": invoice["status"]}
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = ctx.now
    invoice["next_payment_attempt"] = None
    invoice["amount_remaining"] = 0
    invoice["auto_advance"] = False
    _cancel_intent(ctx, invoice)
    ctx.store.emit("invoice.voided", invoice, ctx.account)
    ctx.store.emit("invoice.updated", invoice, ctx.account, previous)


def mark_uncollectible(ctx: Ctx, invoice: Obj) -> None:
    if invoice["status"] != "open":
        raise StripeError(
            "You can only mark an open invoice as uncollectible.", code="invoice_not_editable"
        )
    previous = {"status": invoice["status"]}
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = ctx.now
    invoice["next_payment_attempt"] = None
    invoice["auto_advance"] = False
    ctx.store.emit("invoice.marked_uncollectible", invoice, ctx.account)
    ctx.store.emit("invoice.updated", invoice, ctx.account, previous)


def _cancel_intent(ctx: Ctx, invoice: Obj) -> None:
    pi = ctx.store.find(ctx.store.hidden(invoice["id"]).get("payment_intent", ""))
    if pi is not None and pi["status"] not in ("succeeded", "canceled"):
        pi.update(status="canceled", canceled_at=ctx.now, cancellation_reason="void_invoice")
        ctx.store.emit("payment_intent.canceled", pi, ctx.account)
