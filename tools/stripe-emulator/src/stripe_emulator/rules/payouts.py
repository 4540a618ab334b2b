"""Balances and payouts: funds becoming available, payouts on each account's schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

from stripe_emulator.rules.money import DAY, add_balance_transaction, available_balance
from stripe_emulator.shapes.money import payout_shape
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
            store.emit("payout.paid", payout, account)
            if payout["automatic"]:  # what it settled can be listed from now on
                payout["reconciliation_status"] = "completed"
                store.emit("payout.reconciliation_completed", payout, account)


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
