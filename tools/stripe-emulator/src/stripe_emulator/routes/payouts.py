"""The balance, balance transactions, payouts (manual ones created here)."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.forms import get_int, get_str, merge_metadata, req_str
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.rules.money import available_balance
from stripe_emulator.rules.payouts import balance_of, create_payout
from stripe_emulator.store import Obj


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
