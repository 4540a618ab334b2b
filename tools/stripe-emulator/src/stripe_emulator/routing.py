"""The `/v1` route table, parameter checks, and Stripe's list envelope with its filters."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stripe_emulator.context import Ctx
from stripe_emulator.errors import invalid_param, unknown_param
from stripe_emulator.forms import Params, get_dict, get_int, get_str
from stripe_emulator.store import Obj

Handler = Callable[[Ctx], Obj]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    allowed: frozenset[str] | None


ROUTES: list[Route] = []


def route(
    method: str, path: str, *, allowed: Iterable[str] | None = None
) -> Callable[[Handler], Handler]:
    """Register a handler; `allowed` lists the only parameters the endpoint accepts."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")

    def register(handler: Handler) -> Handler:
        keys = None if allowed is None else frozenset([*allowed, "expand"])
        ROUTES.append(Route(method, regex, handler, keys))
        return handler

    return register


def action_route(path: str, kind: str, action: Callable[[Ctx, Obj], None]) -> Handler:
    """Register ``POST path``: ``action`` taken on the object of ``kind`` that the path's
    ``{id}`` names, which is the answer (``/v1/invoices/{id}/void``)."""

    def act(ctx: Ctx) -> Obj:
        obj = ctx.store.get(kind, ctx.path["id"], ctx.account)
        action(ctx, obj)
        return obj

    return route("POST", path)(act)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        if candidate.method != method:
            continue
        found = candidate.pattern.match(path)
        if found:
            return candidate, found.groupdict()
    return None


def check_allowed(found: Route, params: Params) -> None:
    if found.allowed is None:
        return
    for key in params:
        if key not in found.allowed:
            raise unknown_param(key)


# lists ----------------------------------------------------------------------
Predicate = Callable[[Obj], bool]


def created_filter(params: Params, name: str = "created") -> Predicate | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, dict):
        exact = get_int(params, name)
        return lambda obj: obj.get(name) == exact
    bounds = {op: get_int(raw, op) for op in ("gt", "gte", "lt", "lte")}

    def within(obj: Obj) -> bool:
        value = obj.get(name) or 0
        checks = (
            bounds["gt"] is None or value > bounds["gt"],
            bounds["gte"] is None or value >= bounds["gte"],
            bounds["lt"] is None or value < bounds["lt"],
            bounds["lte"] is None or value <= bounds["lte"],
        )
        return all(checks)

    return within


def list_objects(
    ctx: Ctx,
    kind: str,
    url: str,
    *filters: Predicate | None,
    ids: list[str] | None = None,
    items: list[Obj] | None = None,
) -> Obj:
    """Stripe's list envelope, newest first, with limit/starting_after/ending_before."""
    params = ctx.params
    limit = get_int(params, "limit") or 10
    if not 1 <= limit <= 100:
        raise invalid_param("limit", "Invalid limit: must be between 1 and 100")
    starting_after = get_str(params, "starting_after")
    ending_before = get_str(params, "ending_before")
    active = [f for f in (*filters, created_filter(params)) if f is not None]
    source = ids if ids is not None else ctx.store.ids(ctx.account, kind)
    objects = ctx.store.objects

    def matching() -> Iterable[Obj]:
        candidates = (
            reversed(items) if items is not None else (objects.get(i) for i in reversed(source))
        )
        for obj in candidates:
            if obj is not None and all(f(obj) for f in active):
                yield obj

    data: list[Obj] = []
    has_more = False
    if ending_before:
        before: list[Obj] = []
        for obj in matching():
            if obj["id"] == ending_before:
                break
            before.append(obj)
        data = before[-limit:]
        has_more = len(before) > limit
    else:
        started = starting_after is None
        for obj in matching():
            if not started:
                started = obj["id"] == starting_after
                continue
            if len(data) == limit:
                has_more = True
                break
            data.append(obj)
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def metadata_filter(params: Params) -> Predicate | None:
    wanted = get_dict(params, "metadata")
    if not wanted:
        return None
    return lambda obj: all(obj.get("metadata", {}).get(k) == v for k, v in wanted.items())


def field_filter(params: Params, name: str, field: str | None = None) -> Predicate | None:
    value = get_str(params, name)
    if value is None:
        return None
    key = field or name
    return lambda obj: obj.get(key) == value
