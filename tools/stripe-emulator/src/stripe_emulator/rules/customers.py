"""Customers as other resources name them: a deleted customer is no longer usable."""

from __future__ import annotations

from typing import Any

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.store import Obj


def get_customer(ctx: Ctx, customer_id: Any, param: str = "id") -> Obj:
    """The customer `customer_id` of the acting account; named by another resource (`param`
    other than `id`), a deleted customer is missing."""
    customer: Obj = ctx.store.get("customer", customer_id, ctx.account, param)
    if ctx.store.hidden(customer["id"]).get("deleted") and param != "id":
        raise StripeError(
            f"No such customer: '{customer_id}'",
            status=404,
            param=param,
            code="resource_missing",
        )
    return customer
