"""`expand[]`: an id becomes its object, an includable field is computed on request.

Stripe refuses a path it does not document as expandable, and accepts one it documents even
where the object has nothing there (a null or absent nested field stays as it is). `EXPANDABLE`
lists, per object, the top-level fields Stripe documents as expandable or as containing
expandable fields; `INCLUDABLE` computes the fields Stripe leaves out unless expanded
(`customer.sources`, `invoice.payments`, ...), registered by the resource that owns them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stripe_emulator.errors import StripeError
from stripe_emulator.forms import Params, get_list
from stripe_emulator.store import Obj, Store, snapshot

Includable = Callable[[Store, Obj], Any]
INCLUDABLE: dict[tuple[str, str], Includable] = {}

EXPANDABLE: dict[str, frozenset[str]] = {
    kind: frozenset(fields.split())
    for kind, fields in {
        "account": "company individual settings",
        "application_fee": "account application balance_transaction charge originating_transaction",
        "balance_transaction": "source",
        "billing_portal.session": "configuration",
        "charge": "application application_fee balance_transaction customer "
        "failure_balance_transaction on_behalf_of outcome payment_intent "
        "payment_method_details review source_transfer transfer transfer_data",
        "customer": "cash_balance default_source discount invoice_credit_balance "
        "invoice_settings sources subscriptions tax tax_ids test_clock",
        "dispute": "charge evidence payment_intent",
        "fee_refund": "balance_transaction fee",
        "invoice": "account_tax_ids application automatic_tax customer "
        "default_payment_method default_source discounts from_invoice issuer latest_revision "
        "lines on_behalf_of parent payments shipping_cost test_clock total_discount_amounts "
        "total_pretax_credit_amounts",
        "invoice_payment": "invoice payment",
        "invoiceitem": "customer discounts invoice pricing proration_details test_clock",
        "line_item": "discount_amounts discounts pretax_credit_amounts pricing subscription",
        "payment_intent": "application customer latest_charge on_behalf_of payment_method "
        "payment_record review source transfer_data",
        "payment_method": "card customer sepa_debit",
        "payout": "application_fee balance_transaction destination "
        "failure_balance_transaction original_payout reversed_by",
        "price": "currency_options product tiers",
        "product": "default_price tax_code",
        "refund": "balance_transaction charge customer failure_balance_transaction "
        "payment_intent payment_method source_transfer_reversal transfer_reversal",
        "setup_intent": "application customer latest_attempt mandate on_behalf_of "
        "payment_method single_use_mandate",
        "subscription": "application automatic_tax billing_schedules cancellation_details "
        "customer default_payment_method default_source discounts invoice_settings items "
        "latest_invoice on_behalf_of pending_setup_intent pending_update schedule test_clock "
        "transfer_data",
        "subscription_item": "discounts price",
        "subscription_schedule": "application customer default_settings phases subscription "
        "test_clock",
        "plan": "product tiers",
    }.items()
}


def includable(kind: str, field: str) -> Callable[[Includable], Includable]:
    """Register how `field` of a `kind` object is computed when a request expands it."""

    def register(compute: Includable) -> Includable:
        INCLUDABLE[(kind, field)] = compute
        return compute

    return register


def fixed_includable(kind: str, field: str, value: Any) -> None:
    """Register an includable field that is always `value` here (e.g. never funded)."""

    def compute(store: Store, obj: Obj) -> Any:
        del store, obj
        return snapshot(value)

    INCLUDABLE[(kind, field)] = compute


def expand(store: Store, obj: Obj, params: Params) -> Obj:
    """A copy of `obj` with every `expand[]` path of `params` expanded (`obj` if none)."""
    paths = [str(p) for p in get_list(params, "expand")]
    if not paths:
        return obj
    out: Obj = snapshot(obj)
    for path in paths:
        _expand(store, out, path.split("."), path, documented=False)
    return out


def _cannot_expand(full: str) -> StripeError:
    return StripeError(f"This property cannot be expanded ({full}).", param="expand")


def _expand(store: Store, node: Any, parts: list[str], full: str, *, documented: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _expand(store, item, parts, full, documented=documented)
        return
    if not isinstance(node, dict) or not parts:
        return
    key, rest = parts[0], parts[1:]
    kind = node.get("object")
    if isinstance(kind, str):
        documented = key in EXPANDABLE.get(kind, frozenset())
    if key in node:
        value = node[key]
        if isinstance(value, str):
            target = store.find(value)
            if target is None:
                raise _cannot_expand(full)
            value = node[key] = snapshot(target)
    else:
        compute = INCLUDABLE.get((str(kind), key))
        if compute is None:
            if documented:
                return  # documented, but this object has nothing there
            raise _cannot_expand(full)
        value = node[key] = compute(store, node)
    if rest and value is not None:
        _expand(store, value, rest, full, documented=documented)
