"""The platform's fee: a percentage of a charge in cents, rounded half-up once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_kit.money import PLATFORM_FEE_PERCENT, percent_fee_cents

pytestmark = pytest.mark.unit


def test_a_percent_fee_follows_the_subscription_s_percent() -> None:
    assert percent_fee_cents(1000, Decimal("2.5")) == 25
    assert percent_fee_cents(1010, Decimal("0.5")) == 5  # 5.05


def test_the_platform_takes_half_a_percent() -> None:
    assert Decimal("0.5") == PLATFORM_FEE_PERCENT
    assert percent_fee_cents(100, PLATFORM_FEE_PERCENT) == 1  # 0.5 → 1, half-up
