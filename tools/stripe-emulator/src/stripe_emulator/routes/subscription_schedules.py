"""Subscription schedules: made from a subscription, given phases, released or canceled."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.forms import get_list, get_str, merge_metadata
from stripe_emulator.routing import action_route, field_filter, list_objects, route
from stripe_emulator.rules.schedules import (
    cancel_schedule,
    end_behavior,
    release,
    replace_phases,
    schedule_from_subscription,
)
from stripe_emulator.store import Obj, changed, snapshot


@route("POST", "/v1/subscription_schedules")
def create_schedule(ctx: Ctx) -> Obj:
    sub_id = get_str(ctx.params, "from_subscription")
    if sub_id is None:
        raise StripeError(
            "Missing required param: from_subscription (the emulator makes schedules from "
            "existing subscriptions).",
            code="parameter_missing",
            param="from_subscription",
        )
    if "phases" in ctx.params or "end_behavior" in ctx.params:
        raise StripeError(
            "You cannot set `phases` or `end_behavior` if `from_subscription` is set; update "
            "the schedule instead.",
            param="phases" if "phases" in ctx.params else "end_behavior",
        )
    sub = ctx.store.get("subscription", sub_id, ctx.account, "from_subscription")
    schedule = schedule_from_subscription(ctx, sub)
    schedule["metadata"] = merge_metadata({}, ctx.params)
    return schedule


def _schedule(ctx: Ctx) -> Obj:
    return ctx.store.get("subscription_schedule", ctx.path["id"], ctx.account)


@route("GET", "/v1/subscription_schedules")
def list_schedules(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "subscription_schedule",
        "/v1/subscription_schedules",
        field_filter(ctx.params, "customer"),
    )


@route("GET", "/v1/subscription_schedules/{id}")
def retrieve_schedule(ctx: Ctx) -> Obj:
    return _schedule(ctx)


@route("POST", "/v1/subscription_schedules/{id}")
def update_schedule(ctx: Ctx) -> Obj:
    schedule = _schedule(ctx)
    before = snapshot(schedule)
    try:
        if "end_behavior" in ctx.params:
            schedule["end_behavior"] = end_behavior(ctx.params["end_behavior"])
        if "phases" in ctx.params:
            replace_phases(ctx, schedule, get_list(ctx.params, "phases"))
    except StripeError:
        schedule.clear()  # a refused update changes nothing
        schedule.update(before)
        raise
    schedule["metadata"] = merge_metadata(schedule["metadata"], ctx.params)
    first = schedule["phases"][0]
    if schedule["status"] == "active":
        schedule["current_phase"] = {
            "end_date": first["end_date"],
            "start_date": first["start_date"],
        }
    ctx.store.emit(
        "subscription_schedule.updated", schedule, ctx.account, changed(before, schedule)
    )
    return schedule


release_schedule = action_route(
    "/v1/subscription_schedules/{id}/release", "subscription_schedule", release
)
cancel_subscription_schedule = action_route(
    "/v1/subscription_schedules/{id}/cancel", "subscription_schedule", cancel_schedule
)
