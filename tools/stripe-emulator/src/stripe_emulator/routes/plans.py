"""Plans: the older face of recurring prices. Stripe still serves every recurring price as a
plan with the same id (`GET /v1/plans`, `GET /v1/plans/{id}`)."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import resource_missing
from stripe_emulator.forms import get_bool
from stripe_emulator.routing import field_filter, list_objects, route
from stripe_emulator.shapes.billing import plan_from_price
from stripe_emulator.store import Obj


def _plans(ctx: Ctx) -> list[Obj]:
    prices = (ctx.store.objects[i] for i in ctx.store.ids(ctx.account, "price"))
    return [plan_from_price(price) for price in prices if price["recurring"] is not None]


@route("GET", "/v1/plans")
def list_plans(ctx: Ctx) -> Obj:
    active = get_bool(ctx.params, "active")
    return list_objects(
        ctx,
        "plan",
        "/v1/plans",
        None if active is None else (lambda p: p["active"] == active),
        field_filter(ctx.params, "product"),
        items=_plans(ctx),
    )


@route("GET", "/v1/plans/{id}")
def retrieve_plan(ctx: Ctx) -> Obj:
    price = ctx.store.find(ctx.path["id"])
    if (
        price is None
        or price.get("object") != "price"
        or ctx.store.owner.get(price["id"]) != ctx.account
        or price["recurring"] is None
    ):
        raise resource_missing("plan", ctx.path["id"])
    return plan_from_price(price)
