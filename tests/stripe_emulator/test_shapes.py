"""Every object we return has every top-level field of Stripe's example, with the same type."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import Emulator
from tests.helpers.stripe_emulator.objects import one_of_each
from tests.helpers.stripe_emulator.shapes import shape_mismatches

pytestmark = pytest.mark.integration


def test_every_object_has_stripe_fields_with_stripe_types(
    client: stripe.StripeClient, fresh: Emulator, fixtures: dict[str, Any]
) -> None:
    made = one_of_each(client, fresh)
    problems = {
        name: shape_mismatches(obj.to_dict(), fixtures[name])
        for name, obj in made.items()
        if shape_mismatches(obj.to_dict(), fixtures[name])
    }
    assert problems == {}
    assert len(made) >= 28


def test_invoice_follows_current_api(client: stripe.StripeClient, fresh: Emulator) -> None:
    made = one_of_each(client, fresh)
    invoice = made["invoice"].to_dict()
    for removed in ("charge", "payment_intent", "paid", "application_fee_amount"):
        assert removed not in invoice
    assert "invoice" not in made["charge"].to_dict()
    assert made["invoice_payment"].payment.type == "payment_intent"


def test_ids_carry_stripe_prefixes(client: stripe.StripeClient, fresh: Emulator) -> None:
    made = one_of_each(client, fresh)
    prefixes = {
        "account": "acct_", "product": "prod_", "price": "price_", "customer": "cus_",
        "payment_method": "pm_", "setup_intent": "seti_", "subscription": "sub_",
        "subscription_item": "si_", "invoice": "in_", "line_item": "il_", "invoiceitem": "ii_",
        "payment_intent": "pi_", "charge": "ch_", "balance_transaction": "txn_",
        "application_fee": "fee_", "refund": "re_", "fee_refund": "fr_", "dispute": "dp_",
        "payout": "po_", "event": "evt_", "webhook_endpoint": "we_",
        "billing_portal.session": "bps_",
    }  # fmt: skip
    for name, prefix in prefixes.items():
        assert made[name].id.startswith(prefix), name
