"""Pure rules: form decoding, fees, periods, signatures."""

from __future__ import annotations

from decimal import Decimal

import pytest
import stripe

from stripe_emulator.delivery import sign
from stripe_emulator.forms import parse_form
from stripe_emulator.rules.dates import add_period
from stripe_emulator.rules.money import percent_of, stripe_fee

pytestmark = pytest.mark.unit


def test_parse_form_nests_brackets() -> None:
    parsed = parse_form(
        "items[0][price]=price_1&items[0][quantity]=2&items[1][price]=price_2"
        "&metadata[workspace_id]=w&metadata[0]=z&expand[]=latest_invoice&expand[]=customer"
        "&payment_settings[payment_method_types][0]=stripe_balance"
    )
    assert parsed == {
        "items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
        "metadata": {"workspace_id": "w", "0": "z"},
        "expand": ["latest_invoice", "customer"],
        "payment_settings": {"payment_method_types": ["stripe_balance"]},
    }


@pytest.mark.parametrize(
    ("amount", "fee"), [(2000, 88), (1000, 59), (5000, 175), (1050, 60), (50, 31)]
)
def test_stripe_fee_is_2_9_percent_plus_30_cents(amount: int, fee: int) -> None:
    assert stripe_fee(amount) == fee


def test_application_fee_percent_rounds_half_up() -> None:
    assert percent_of(2000, Decimal("0.5")) == 10
    assert percent_of(2100, Decimal("0.5")) == 11  # 10.5 -> 11
    assert percent_of(999, Decimal("12.34")) == 123


def test_monthly_periods_keep_the_anchor_day() -> None:
    jan31 = 1769817600  # 2026-01-31T00:00:00Z
    feb = add_period(jan31, "month", 1, jan31)
    assert feb == 1772236800  # 2026-02-28
    assert add_period(feb, "month", 1, jan31) == 1774915200  # 2026-03-31
    assert add_period(jan31, "year", 1, jan31) == 1801353600


def test_signature_matches_the_sdk() -> None:
    payload = b'{"id": "evt_1", "object": "event"}'
    header = sign(payload, "whsec_test", 1_700_000_000)
    assert stripe.WebhookSignature.verify_header(
        payload.decode(), header, "whsec_test", tolerance=None
    )
