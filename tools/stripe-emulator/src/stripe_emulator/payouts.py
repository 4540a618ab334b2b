"""Balances, balance transactions, payouts (manual and on each account's schedule)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stripe_emulator.errors import StripeError
from stripe_emulator.forms import get_int, get_str, merge_metadata, req_str
from stripe_emulator.money import DAY, add_balance_transaction, available_balance
from stripe_emulator.router import Ctx, field_filter, list_objects, route
from stripe_emulator.shapes_money import payout_shape
from stripe_emulator.store import Obj, Store, new_id

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def balance_of(store: Store, account: str) -> Obj:
    sums: dict[str, dict[str, int]] = {}
    for txn_id in store.ids(account, "balance_transaction"):
        txn = store.objects[txn_id]
        bucket = sums.setdefault(txn["currency"], {"available": 0, "pending": 0})
        bucket["available" if txn["status"] == "available" else "pending"] += txn["net"]
    if not sums:
        currency = (store.objects.get(account) or {}).get("default_currency") or "usd"
        sums[currency] = {"available": 0, "pending": 0}

    def entries(kind: str) -> list[dict[str, Any]]:
        return [
            {"amount": b[kind], "currency": c, "source_types": {"card": b[kind]}}
            for c, b in sorted(sums.items())
        ]

    return {
        "object": "balance",
        "available": entries("available"),
        "connect_reserved": [{"amount": 0, "currency": c} for c in sorted(sums)],
        "livemode": False,
        "pending": entries("pending"),
    }


@route("GET", "/v1/balance")
def retrieve_balance(ctx: Ctx) -> Obj:
    return balance_of(ctx.store, ctx.account)


@route("GET", "/v1/balance_transactions")
def list_balance_transactions(ctx: Ctx) -> Obj:
    payout_id = get_str(ctx.params, "payout")
    return list_objects(
        ctx,
        "balance_transaction",
        "/v1/balance_transactions",
        field_filter(ctx.params, "type"),
        field_filter(ctx.params, "source"),
        field_filter(ctx.params, "currency"),
        (lambda t: ctx.store.hidden(t["id"]).get("payout") == payout_id) if payout_id else None,
    )


@route("GET", "/v1/balance_transactions/{id}")
def retrieve_balance_transaction(ctx: Ctx) -> Obj:
    return ctx.store.get("balance_transaction", ctx.path["id"], ctx.account)


def create_payout(store: Store, account: str, amount: int, currency: str, automatic: bool) -> Obj:
    now = store.now()
    payout = payout_shape(new_id("po"), now, amount, currency, automatic)
    payout["arrival_date"] = now - now % DAY + DAY
    payout["status"] = "in_transit" if automatic else "pending"
    txn = add_balance_transaction(
        store,
        account,
        amount=-amount,
        currency=currency,
        type_="payout",
        source=payout["id"],
        immediately=True,
        description="STRIPE PAYOUT",
    )
    payout["balance_transaction"] = txn["id"]
    if automatic:
        for txn_id in store.ids(account, "balance_transaction"):
            hidden = store.hidden(txn_id)
            if store.objects[txn_id]["status"] == "available" and "payout" not in hidden:
                hidden["payout"] = payout["id"]
    store.add(payout, account)
    store.emit("payout.created", payout, account)
    return payout


@route("POST", "/v1/payouts")
def create_manual_payout(ctx: Ctx) -> Obj:
    amount = get_int(ctx.params, "amount", required=True)
    assert amount is not None
    currency = req_str(ctx.params, "currency").lower()
    if amount > available_balance(ctx.store, ctx.account, currency):
        raise StripeError(
            "You have insufficient funds in your Stripe account for this transfer. Your card "
            "balance is too low.",
            code="balance_insufficient",
            param="amount",
        )
    payout = create_payout(ctx.store, ctx.account, amount, currency, automatic=False)
    payout["description"] = get_str(ctx.params, "description") or payout["description"]
    payout["metadata"] = merge_metadata({}, ctx.params)
    return payout


@route("GET", "/v1/payouts")
def list_payouts(ctx: Ctx) -> Obj:
    return list_objects(ctx, "payout", "/v1/payouts", field_filter(ctx.params, "status"))


@route("GET", "/v1/payouts/{id}")
def retrieve_payout(ctx: Ctx) -> Obj:
    return ctx.store.get("payout", ctx.path["id"], ctx.account)


# clock work -------------------------------------------------------------------
def release_pending_funds(store: Store, now: int) -> None:
    """Pending balance transactions whose `available_on` has come become available."""
    touched: set[str] = set()
    for account, txn in store.all_of("balance_transaction"):
        if txn["status"] == "pending" and txn["available_on"] <= now:
            txn["status"] = "available"
            touched.add(account)
    for account in sorted(touched):
        store.emit("balance.available", balance_of(store, account), account)


def _payout_day(schedule: dict[str, Any], day: dt.date) -> bool:
    interval = schedule.get("interval", "manual")
    if interval == "daily":
        return True
    if interval == "weekly":
        return WEEKDAYS[day.weekday()] == str(schedule.get("weekly_anchor", "monday"))
    if interval == "monthly":
        anchor = int(schedule.get("monthly_anchor", 1))
        last = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return day.day == min(anchor, last.day)
    return False


def _automatic_accounts(store: Store) -> list[Obj]:
    return [
        acct
        for _, acct in store.all_of("account")
        if acct["payouts_enabled"]
        and acct["settings"]["payouts"]["schedule"].get("interval", "manual") != "manual"
    ]


def run_automatic_payouts(store: Store, now: int) -> None:
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    for acct in _automatic_accounts(store):
        if not _payout_day(acct["settings"]["payouts"]["schedule"], day):
            continue
        currencies = {
            store.objects[t]["currency"] for t in store.ids(acct["id"], "balance_transaction")
        }
        for currency in sorted(currencies):
            amount = available_balance(store, acct["id"], currency)
            if amount > 0:
                create_payout(store, acct["id"], amount, currency, automatic=True)


def settle_payouts(store: Store, now: int) -> None:
    for account, payout in store.all_of("payout"):
        if payout["status"] in ("pending", "in_transit") and payout["arrival_date"] <= now:
            payout["status"] = "paid"
            if payout["automatic"]:
                payout["reconciliation_status"] = "completed"
            store.emit("payout.paid", payout, account)


def next_money_due(store: Store, now: int) -> int | None:
    """The next moment balances or payouts change on their own."""
    candidates = [
        txn["available_on"]
        for _, txn in store.all_of("balance_transaction")
        if txn["status"] == "pending"
    ]
    candidates += [
        p["arrival_date"]
        for _, p in store.all_of("payout")
        if p["status"] in ("pending", "in_transit")
    ]
    for acct in _automatic_accounts(store):
        currencies = {
            store.objects[t]["currency"] for t in store.ids(acct["id"], "balance_transaction")
        }
        if any(available_balance(store, acct["id"], c) > 0 for c in currencies):
            candidates.append(now - now % DAY + DAY)
            break
    return min(candidates) if candidates else None
