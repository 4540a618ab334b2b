"""The emulator clock: advancing it runs everything that falls due, in time order."""

from __future__ import annotations

from collections.abc import Callable

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.rules.invoicing import collect, finalize, void
from stripe_emulator.rules.money import DAY
from stripe_emulator.rules.payouts import (
    next_money_due,
    release_pending_funds,
    run_automatic_payouts,
    settle_payouts,
)
from stripe_emulator.rules.subscription_status import (
    on_invoice_overdue,
    on_invoice_payment_failed,
    on_invoice_still_overdue,
)
from stripe_emulator.rules.subscriptions import renew
from stripe_emulator.store import Obj, Store

INCOMPLETE_LIFETIME = 23 * 3600
MAX_STEPS = 100_000


def _balance_sub(store: Store, sub: Obj) -> bool:
    return "stripe_balance" in (sub["payment_settings"]["payment_method_types"] or [])


def _period_end(sub: Obj) -> int:
    return int(sub["items"]["data"][0]["current_period_end"])


def _renews(store: Store, sub: Obj) -> bool:
    return sub["status"] in ("active", "past_due", "trialing", "unpaid") or (
        sub["status"] == "incomplete" and _balance_sub(store, sub)
    )


def _finalize_due(ctx: Ctx, invoice: Obj) -> None:
    finalize(ctx, invoice)
    if invoice["status"] != "open":
        return
    if invoice["collection_method"] == "send_invoice":
        ctx.store.emit("invoice.sent", invoice, ctx.account)
    else:
        _attempt(ctx, invoice)


def _attempt(ctx: Ctx, invoice: Obj) -> None:
    try:
        collect(ctx, invoice, None, automatic=True)
    except StripeError:
        # No usable payment method (or account disabled): counts as a failed attempt.
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        invoice["next_payment_attempt"] = None
        ctx.store.emit("invoice.payment_failed", invoice, ctx.account)
        on_invoice_payment_failed(ctx, invoice)


def _overdue(ctx: Ctx, invoice: Obj) -> None:
    ctx.store.hidden(invoice["id"])["overdue"] = True
    ctx.store.emit("invoice.overdue", invoice, ctx.account)
    on_invoice_overdue(ctx, invoice)


def _past_deadline(ctx: Ctx, invoice: Obj) -> None:
    ctx.store.hidden(invoice["id"])["past_deadline"] = True
    on_invoice_still_overdue(ctx, invoice)


def _expire(ctx: Ctx, sub: Obj) -> None:
    invoice = ctx.store.find(sub["latest_invoice"] or "")
    if invoice is not None and invoice["status"] == "open":
        void(ctx, invoice)
    previous = {"status": sub["status"]}
    sub.update(status="incomplete_expired", ended_at=ctx.now)
    ctx.store.emit("customer.subscription.updated", sub, ctx.account, previous)


Job = tuple[int, str, Callable[[Ctx, Obj], None], Obj]


def _jobs(store: Store) -> list[Job]:
    """Everything with a due time, as (due_at, account, action, object)."""
    jobs: list[Job] = []
    deadline_action = store.settings.get("send_invoice_past_due_action", "past_due")
    deadline = int(store.settings.get("send_invoice_past_due_days", 30)) * DAY
    for account, sub in store.all_of("subscription"):
        if _renews(store, sub):
            jobs.append((_period_end(sub), account, renew, sub))
        elif sub["status"] == "incomplete":
            jobs.append((sub["created"] + INCOMPLETE_LIFETIME, account, _expire, sub))
    for account, inv in store.all_of("invoice"):
        hidden = store.meta.get(inv["id"], {})
        if inv["status"] == "draft" and inv["auto_advance"] and inv["automatically_finalizes_at"]:
            jobs.append((inv["automatically_finalizes_at"], account, _finalize_due, inv))
        elif inv["status"] == "open":
            if inv["next_payment_attempt"] and inv["collection_method"] == "charge_automatically":
                jobs.append((inv["next_payment_attempt"], account, _attempt, inv))
            if inv["collection_method"] != "send_invoice" or not inv["due_date"]:
                continue
            if not hidden.get("overdue"):
                jobs.append((inv["due_date"], account, _overdue, inv))
            elif not hidden.get("past_deadline") and deadline_action != "past_due":
                jobs.append((inv["due_date"] + deadline, account, _past_deadline, inv))
    return jobs


def run_due(store: Store) -> int | None:
    """Run every job due now; answer when the next one falls due."""
    now = store.now()
    for _ in range(MAX_STEPS):
        due = [job for job in _jobs(store) if job[0] <= now]
        if not due:
            break
        due.sort(key=lambda job: job[0])
        at, account, action, obj = due[0]
        del at
        action(Ctx.acting_as(store, account), obj)
    release_pending_funds(store, now)
    _daily_payouts(store, now)
    settle_payouts(store, now)
    candidates = [job[0] for job in _jobs(store) if job[0] > now]
    money = next_money_due(store, now)
    if money is not None and money > now:
        candidates.append(money)
    return min(candidates) if candidates else None


def _daily_payouts(store: Store, now: int) -> None:
    """Automatic payouts run at midnight UTC (the clock stops there when funds wait)."""
    day = now // DAY
    marker = store.hidden("_payout_days")
    if now % DAY != 0 or marker.get("last") == day:
        return
    marker["last"] = day
    run_automatic_payouts(store, now)


def advance(store: Store, seconds: int) -> int:
    target = store.now() + seconds
    for _ in range(MAX_STEPS):
        upcoming = run_due(store)
        if upcoming is None or upcoming > target:
            break
        store.set_now(upcoming)
    store.set_now(target)
    run_due(store)
    return store.now()
