"""Subscription items: list and retrieve (they live inside their subscription)."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import missing_param, resource_missing
from stripe_emulator.forms import get_str
from stripe_emulator.routing import list_objects, route
from stripe_emulator.store import Obj


@route("GET", "/v1/subscription_items")
def list_subscription_items(ctx: Ctx) -> Obj:
    sub_id = get_str(ctx.params, "subscription")
    if sub_id is None:
        raise missing_param("subscription")
    sub = ctx.store.get("subscription", sub_id, ctx.account, "subscription")
    return list_objects(
        ctx,
        "subscription_item",
        f"/v1/subscription_items?subscription={sub_id}",
        items=list(reversed(sub["items"]["data"])),
    )


@route("GET", "/v1/subscription_items/{id}")
def retrieve_subscription_item(ctx: Ctx) -> Obj:
    for sub_id in ctx.store.ids(ctx.account, "subscription"):
        for item in ctx.store.objects[sub_id]["items"]["data"]:
            if item["id"] == ctx.path["id"]:
                found: Obj = item
                return found
    raise resource_missing("subscription_item", ctx.path["id"])
