"""Payment methods: Stripe's test cards and tokens, attaching to a customer, declines."""

from __future__ import annotations

from dataclasses import dataclass

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, card_declined, resource_missing
from stripe_emulator.shapes.customers import card_details, payment_method_shape
from stripe_emulator.store import Obj, new_id


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    decline_code: str | None = None
    dispute: bool = False
    refund_fails: bool = False
    """The charge succeeds; a refund of it is first ``succeeded``, then fails."""
    funding: str = "credit"


TEST_CARDS = {
    "visa": TestCard("visa", "4242"),
    "visa_debit": TestCard("visa", "5556", funding="debit"),
    "mastercard": TestCard("mastercard", "4444"),
    "amex": TestCard("amex", "8431"),
    "chargeDeclined": TestCard("visa", "0002", "generic_decline"),
    "chargeDeclinedInsufficientFunds": TestCard("visa", "9995", "insufficient_funds"),
    "chargeDeclinedExpiredCard": TestCard("visa", "0069", "expired_card"),
    "chargeCustomerFail": TestCard("visa", "0341", "generic_decline"),
    "createDispute": TestCard("visa", "0259", dispute=True),
    "refundFail": TestCard("visa", "5126", refund_fails=True),
}
CARD_NUMBERS = {
    "4242424242424242": "visa",
    "4000000000000002": "chargeDeclined",
    "4000000000009995": "chargeDeclinedInsufficientFunds",
    "4000000000000341": "chargeCustomerFail",
    "4000000000000259": "createDispute",
    "4000000000005126": "refundFail",
    "5555555555554444": "mastercard",
}
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
}


def test_card_name(token: str) -> str | None:
    for prefix in ("pm_card_", "tok_"):
        if token.startswith(prefix) and token[len(prefix) :] in TEST_CARDS:
            return token[len(prefix) :]
    return None


def new_card(ctx: Ctx, card_name: str) -> Obj:
    card = TEST_CARDS[card_name]
    pm = payment_method_shape(new_id("pm"), ctx.now, "card")
    pm["card"] = card_details(card.brand, card.last4, card.funding)
    ctx.store.add(pm, ctx.account)
    ctx.store.hidden(pm["id"])["test_card"] = card_name
    return pm


def test_card_of(ctx: Ctx, pm: Obj) -> TestCard | None:
    name = ctx.store.hidden(pm["id"]).get("test_card")
    return TEST_CARDS.get(str(name)) if name else None


def decline_error(card: TestCard, extra: dict[str, object]) -> StripeError:
    code = card.decline_code or "generic_decline"
    return card_declined(code, DECLINE_MESSAGES.get(code, "Your card was declined."), extra)


def resolve_payment_method(ctx: Ctx, pm_id: str, param: str, customer: Obj | None = None) -> Obj:
    """A stored payment method, or a fresh one made from a test token like `pm_card_visa`."""
    card_name = test_card_name(pm_id)
    if card_name is not None:
        pm = new_card(ctx, card_name)
        if customer is not None:
            attach(ctx, pm, customer)
        return pm
    found = ctx.store.find(pm_id)
    if found is None or found.get("object") != "payment_method":
        raise resource_missing("PaymentMethod", pm_id, param)
    if ctx.store.owner[pm_id] != ctx.account:
        raise resource_missing("PaymentMethod", pm_id, param)
    return found


def attach(ctx: Ctx, pm: Obj, customer: Obj) -> None:
    if pm["customer"] == customer["id"]:
        return
    if pm["customer"] is not None:
        raise StripeError(
            "The payment method you provided has already been attached to a customer.",
            param="payment_method",
        )
    pm["customer"] = customer["id"]
    ctx.store.emit("payment_method.attached", pm, ctx.account)
