"""Events: list (type, types[], created filters) and retrieve."""

from __future__ import annotations

from fnmatch import fnmatchcase

from stripe_emulator.context import Ctx
from stripe_emulator.forms import get_list, get_str
from stripe_emulator.routing import list_objects, route
from stripe_emulator.store import Obj


@route("GET", "/v1/events")
def list_events(ctx: Ctx) -> Obj:
    type_ = get_str(ctx.params, "type")
    types = [str(t) for t in get_list(ctx.params, "types")]
    return list_objects(
        ctx,
        "event",
        "/v1/events",
        (lambda e: fnmatchcase(e["type"], type_)) if type_ else None,
        (lambda e: e["type"] in types) if types else None,
    )


@route("GET", "/v1/events/{id}")
def retrieve_event(ctx: Ctx) -> Obj:
    return ctx.store.get("event", ctx.path["id"], ctx.account)
