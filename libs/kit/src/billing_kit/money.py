"""Money rules every service shares: the platform's fee on client charges.

Amounts are integer cents; a percentage of one is rounded half-up to the cent, once.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

PLATFORM_FEE_PERCENT = Decimal("0.5")
"""The platform's application fee on every client charge, in percent."""


def percent_fee_cents(amount_cents: int, percent: Decimal) -> int:
    """``percent`` % of ``amount_cents``, rounded half-up to the cent."""
    return int((Decimal(amount_cents) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP))
