"""Subscription schedules: a subscription's future in phases. A phase starting at a renewal
puts its prices on the subscription before that renewal is invoiced (Stripe's way to change
the price from the next period on, without proration); after the last phase the schedule
completes and releases the subscription (`end_behavior=release`) or cancels it (`cancel`)."""

from __future__ import annotations

from typing import Any

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError, invalid_param, missing_param
from stripe_emulator.rules.dates import add_period
from stripe_emulator.rules.subscription_status import cancel
from stripe_emulator.shapes.billing import plan_from_price
from stripe_emulator.shapes.schedules import phase_item_shape, phase_shape, schedule_shape
from stripe_emulator.store import Obj, new_id, snapshot

END_BEHAVIORS = ("release", "cancel")
PHASE_PRORATIONS = ("create_prorations", "none", "always_invoice")


def schedule_from_subscription(ctx: Ctx, sub: Obj) -> Obj:
    """A schedule whose one phase is the subscription's current period as it stands."""
    if sub["schedule"] is not None:
        raise StripeError(
            f"You cannot migrate a subscription that is already attached to a schedule: "
            f"`{sub['schedule']}`.",
            param="from_subscription",
        )
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid_param("from_subscription", "A canceled subscription cannot be scheduled.")
    first = sub["items"]["data"][0]
    items = [
        phase_item_shape(i["price"]["id"], i["quantity"], dict(i["metadata"]))
        for i in sub["items"]["data"]
    ]
    phase = phase_shape(
        first["current_period_start"],
        first["current_period_end"],
        items,
        sub["currency"],
        "create_prorations",
    )
    schedule = schedule_shape(new_id("sub_sched"), ctx.now, sub, [phase])
    ctx.store.add(schedule, ctx.account)
    sub["schedule"] = schedule["id"]
    ctx.store.emit("subscription_schedule.created", schedule, ctx.account)
    ctx.store.emit("customer.subscription.updated", sub, ctx.account, {"schedule": None})
    return schedule


def replace_phases(ctx: Ctx, schedule: Obj, raw_phases: list[Any]) -> None:
    """`phases[]` of an update: each starts where the previous ends; the first is the current
    one and keeps its start. A phase ends at `end_date`, after `duration`, or after one
    interval of its first price."""
    if schedule["status"] not in ("active", "not_started"):
        raise StripeError(
            f"You cannot update a subscription schedule that is {schedule['status']}.",
            param="phases",
        )
    start = schedule["phases"][0]["start_date"]
    phases: list[Obj] = []
    for index, raw in enumerate(raw_phases):
        if not isinstance(raw, dict):
            raise invalid_param(f"phases[{index}]", "Each phase must be a hash.")
        given_start = _timestamp(ctx, raw.get("start_date"))
        if index == 0 and given_start is not None and given_start != start:
            raise invalid_param(
                "phases[0][start_date]", "You can not modify the start date of the current phase."
            )
        start = given_start or start
        items, prices = _phase_items(ctx, raw, index)
        end = _phase_end(ctx, raw, index, start, prices[0])
        behavior = raw.get("proration_behavior") or "create_prorations"
        if behavior not in PHASE_PRORATIONS:
            raise invalid_param(
                f"phases[{index}][proration_behavior]", f"Invalid proration_behavior: {behavior}"
            )
        phases.append(phase_shape(start, end, items, prices[0]["currency"], str(behavior)))
        start = end
    if not phases:
        raise missing_param("phases")
    schedule["phases"] = phases


def _timestamp(ctx: Ctx, value: Any) -> int | None:
    if value in (None, ""):
        return None
    return ctx.now if value == "now" else int(value)


def _phase_items(ctx: Ctx, raw: dict[str, Any], index: int) -> tuple[list[Obj], list[Obj]]:
    raw_items = raw.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise missing_param(f"phases[{index}][items]")
    items, prices = [], []
    for n, entry in enumerate(raw_items):
        param = f"phases[{index}][items][{n}][price]"
        price_id = entry.get("price") if isinstance(entry, dict) else None
        if not price_id:
            raise missing_param(param)
        price = ctx.store.get("price", price_id, ctx.account, param)
        if price["recurring"] is None:
            raise invalid_param(param, f"The price specified ({price_id}) is not recurring.")
        quantity = int(entry.get("quantity") or 1)
        metadata = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
        items.append(phase_item_shape(price["id"], quantity, dict(metadata)))
        prices.append(price)
    return items, prices


def _phase_end(ctx: Ctx, raw: dict[str, Any], index: int, start: int, price: Obj) -> int:
    end = _timestamp(ctx, raw.get("end_date"))
    duration = raw.get("duration")
    if end is None and isinstance(duration, dict):
        count = int(duration.get("interval_count") or 1)
        end = add_period(start, str(duration.get("interval", "month")), count, start)
    if end is None:
        recurring = price["recurring"]
        end = add_period(start, recurring["interval"], recurring["interval_count"], start)
    if end <= start:
        raise invalid_param(
            f"phases[{index}][end_date]", "The end date of a phase must be after its start."
        )
    return end


def enter_phase_at(ctx: Ctx, sub: Obj, at: int) -> None:
    """At a renewal (`at`, the end of the period): the phase starting there takes over, or the
    schedule ends after its last phase."""
    schedule = ctx.store.find(sub["schedule"] or "")
    if schedule is None or schedule["status"] != "active":
        return
    phase = next((p for p in schedule["phases"] if p["start_date"] <= at < p["end_date"]), None)
    if phase is None:
        if at >= schedule["phases"][-1]["end_date"]:
            _complete(ctx, schedule, sub, at)
        return
    previous = {"current_phase": schedule["current_phase"]}
    schedule["current_phase"] = {"end_date": phase["end_date"], "start_date": phase["start_date"]}
    _put_items(ctx, sub, phase)
    if previous["current_phase"] != schedule["current_phase"]:
        ctx.store.emit("subscription_schedule.updated", schedule, ctx.account, previous)


def _put_items(ctx: Ctx, sub: Obj, phase: Obj) -> None:
    """The subscription's items become the phase's: an item keeps its id while its price
    stays, a new price makes a new item (for the same period)."""
    current = sub["items"]["data"]
    start, end = current[0]["current_period_start"], current[0]["current_period_end"]
    by_price = {item["price"]["id"]: item for item in current}
    items = []
    for entry in phase["items"]:
        price = ctx.store.objects[entry["price"]]
        item = by_price.pop(price["id"], None)
        if item is None:
            item = snapshot(current[0])
            item.update(id=new_id("si", 14), created=ctx.now, metadata={}, discounts=[])
        item.update(price=price, plan=plan_from_price(price), quantity=entry["quantity"])
        item.update(current_period_start=start, current_period_end=end)
        if entry["metadata"]:
            item["metadata"] = dict(entry["metadata"])
        items.append(item)
    sub["items"]["data"] = items


def _complete(ctx: Ctx, schedule: Obj, sub: Obj, at: int) -> None:
    previous = {"status": schedule["status"], "current_phase": schedule["current_phase"]}
    schedule.update(status="completed", completed_at=at, current_phase=None)
    sub["schedule"] = None
    ctx.store.emit("subscription_schedule.completed", schedule, ctx.account, previous)
    if schedule["end_behavior"] == "cancel":
        cancel(ctx, sub, "cancellation_requested")


def release(ctx: Ctx, schedule: Obj) -> None:
    """Detach the subscription now: it goes on as it is, without the phases to come."""
    if schedule["status"] not in ("active", "not_started"):
        raise StripeError(
            f"You cannot release a subscription schedule that is {schedule['status']}."
        )
    sub = ctx.store.find(schedule["subscription"] or "")
    schedule.update(
        status="released",
        released_at=ctx.now,
        released_subscription=schedule["subscription"],
        subscription=None,
        current_phase=None,
    )
    ctx.store.emit("subscription_schedule.released", schedule, ctx.account)
    if sub is not None:
        sub["schedule"] = None
        ctx.store.emit(
            "customer.subscription.updated", sub, ctx.account, {"schedule": schedule["id"]}
        )


def cancel_schedule(ctx: Ctx, schedule: Obj) -> None:
    """Cancel the schedule and its subscription now."""
    if schedule["status"] not in ("active", "not_started"):
        raise StripeError(
            f"You cannot cancel a subscription schedule that is {schedule['status']}."
        )
    schedule.update(status="canceled", canceled_at=ctx.now, current_phase=None)
    ctx.store.emit("subscription_schedule.canceled", schedule, ctx.account)
    sub = ctx.store.find(schedule["subscription"] or "")
    if sub is not None and sub["status"] not in ("canceled", "incomplete_expired"):
        cancel(ctx, sub, "cancellation_requested")


def end_behavior(value: Any) -> str:
    if value not in END_BEHAVIORS:
        raise invalid_param(
            "end_behavior", f"Invalid end_behavior: must be one of {', '.join(END_BEHAVIORS)}"
        )
    return str(value)
