"""Errors only catalog raises; the kit's one handler renders them like every other."""

from __future__ import annotations

from billing_kit.errors import BillingError


class PriceImmutableError(BillingError):
    status_code = 409
    code = "price_immutable"
    default_message = (
        "Prices are immutable: to change the amount, cadence or currency, archive this product "
        "and create a new product with the new price."
    )
