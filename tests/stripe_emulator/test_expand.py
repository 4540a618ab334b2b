"""`expand[]` accepts every field Stripe documents as expandable on the objects we serve: an id
becomes its object (or stays null), an includable field is computed, and a documented field
the object has nothing in stays as it is. The fields come from the SDK's types
(`ExpandableField`) and, for includable fields the types cannot show, from Stripe's reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import API_KEY, Emulator
from tests.helpers.stripe_emulator.objects import one_of_each
from tests.helpers.stripe_emulator.shapes import expandable_paths

pytestmark = pytest.mark.integration

# Retrieved with GET /v1/<service>/{id}; the platform's own objects without Stripe-Account.
RETRIEVED = {
    "account": "accounts",
    "application_fee": "application_fees",
    "balance_transaction": "balance_transactions",
    "charge": "charges",
    "customer": "customers",
    "dispute": "disputes",
    "invoice": "invoices",
    "invoice_payment": "invoice_payments",
    "invoiceitem": "invoice_items",
    "payment_intent": "payment_intents",
    "payment_method": "payment_methods",
    "payout": "payouts",
    "price": "prices",
    "product": "products",
    "refund": "refunds",
    "setup_intent": "setup_intents",
    "subscription": "subscriptions",
    "subscription_item": "subscription_items",
}
PLATFORM_OWNED = {"account", "application_fee"}
# Reached through a list or returned only at creation.
LISTED_OR_CREATED = ("billing_portal.session", "fee_refund", "line_item")
# Objects we serve whose SDK types have no expandable field.
NOTHING_TO_EXPAND = ("balance", "event", "webhook_endpoint")

# Fields Stripe leaves out unless they are expanded ("includable"); the SDK types them as
# plain optional fields, so they are listed here from Stripe's API reference.
INCLUDABLE = {
    "customer": [
        "cash_balance",
        "invoice_credit_balance",
        "sources",
        "subscriptions",
        "tax",
        "tax_ids",
    ],
    "invoice": ["payments"],
    "price": ["currency_options", "tiers"],
}

CASES = [
    (kind, path)
    for kind in sorted([*RETRIEVED, *LISTED_OR_CREATED])
    for path in [*expandable_paths(kind), *INCLUDABLE.get(kind, [])]
]


@dataclass
class Served:
    client: stripe.StripeClient
    made: dict[str, Any]
    opts: stripe.RequestOptions

    def fetch(self, kind: str, path: str) -> stripe.StripeObject:
        """`kind`'s object fetched again with `expand[]=path`, as a service would."""
        v1, made, opts = self.client.v1, self.made, self.opts
        if kind in RETRIEVED:
            service = getattr(v1, RETRIEVED[kind])
            options: stripe.RequestOptions = {} if kind in PLATFORM_OWNED else opts
            found: stripe.StripeObject = service.retrieve(
                made[kind].id, params={"expand": [path]}, options=options
            )
            return found
        expand = [f"data.{path}"]
        if kind == "line_item":
            lines = v1.invoices.line_items.list(
                made["invoice"].id, params={"expand": expand}, options=opts
            )
            return lines.data[0]
        if kind == "fee_refund":
            fee_id = made["application_fee"].id
            return v1.application_fees.refunds.list(fee_id, params={"expand": expand}).data[0]
        customer = made["customer"].id
        return v1.billing_portal.sessions.create(
            params={"customer": customer, "expand": [path]}, options=opts
        )


@pytest.fixture(scope="module")
def served(emulator: Emulator) -> Served:
    emulator.control("POST", "/reset")
    client = stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url})
    made = one_of_each(client, emulator)
    return Served(client, made, {"stripe_account": made["account"].id})


def test_every_object_we_serve_is_covered() -> None:
    covered = {*RETRIEVED, *LISTED_OR_CREATED, *NOTHING_TO_EXPAND}
    assert covered >= {"billing_portal.session", "customer", "invoice", "line_item", "payout"}
    for kind in NOTHING_TO_EXPAND:
        assert expandable_paths(kind) == [], kind


def test_customer_expands_sources_to_an_empty_list(served: Served) -> None:
    customer_id = served.made["customer"].id
    customer = served.client.v1.customers.retrieve(
        customer_id, params={"expand": ["sources"]}, options=served.opts
    )
    assert customer.to_dict()["sources"] == {
        "object": "list",
        "data": [],
        "has_more": False,
        "url": f"/v1/customers/{customer_id}/sources",
    }


def test_customer_expands_its_current_subscriptions(served: Served) -> None:
    customer = served.client.v1.customers.retrieve(
        served.made["customer"].id, params={"expand": ["subscriptions"]}, options=served.opts
    )
    assert customer.subscriptions is not None
    assert [s.id for s in customer.subscriptions.data] == [served.made["subscription"].id]


def test_an_undocumented_field_is_still_refused(served: Served) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        served.client.v1.customers.retrieve(
            served.made["customer"].id, params={"expand": ["no_such_field"]}, options=served.opts
        )


def _at(node: Any, parts: list[str]) -> list[Any]:
    """The values at `parts` below `node` (lists fan out; a null or absent step ends there)."""
    if isinstance(node, list):
        return [value for item in node for value in _at(item, parts)]
    if not parts:
        return [node]
    if not isinstance(node, stripe.StripeObject) or parts[0] not in node:
        return []
    return _at(node[parts[0]], parts[1:])


@pytest.mark.parametrize(("kind", "path"), CASES, ids=[f"{k}:{p}" for k, p in CASES])
def test_documented_field_expands(served: Served, kind: str, path: str) -> None:
    fetched = served.fetch(kind, path)
    assert fetched.to_dict()["object"] == kind
    for value in _at(fetched, path.split(".")):
        assert not isinstance(value, str), f"{kind}.{path} stayed an id: {value}"
