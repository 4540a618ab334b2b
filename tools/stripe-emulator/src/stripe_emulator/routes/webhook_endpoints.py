"""Webhook endpoints: Stripe's `/v1/webhook_endpoints` (the secret is shown once, at creation)."""

from __future__ import annotations

from stripe_emulator.context import Ctx
from stripe_emulator.errors import StripeError
from stripe_emulator.forms import get_bool, get_list, get_str, merge_metadata, req_str
from stripe_emulator.routing import list_objects, route
from stripe_emulator.rules.webhook_endpoints import register_endpoint
from stripe_emulator.store import Obj


@route("POST", "/v1/webhook_endpoints")
def create_webhook_endpoint(ctx: Ctx) -> Obj:
    url = req_str(ctx.params, "url")
    events = [str(e) for e in get_list(ctx.params, "enabled_events")]
    if not events:
        raise StripeError("Missing required param: enabled_events.", param="enabled_events")
    endpoint = register_endpoint(
        ctx.store,
        url,
        connect=bool(get_bool(ctx.params, "connect", False)),
        secret=None,
        events=events,
    )
    endpoint["description"] = get_str(ctx.params, "description")
    endpoint["api_version"] = get_str(ctx.params, "api_version")
    endpoint["metadata"] = merge_metadata({}, ctx.params)
    shown = dict(endpoint)
    shown["secret"] = ctx.store.hidden(endpoint["id"])["secret"]
    return shown


def _endpoint(ctx: Ctx) -> Obj:
    return ctx.store.get("webhook_endpoint", ctx.path["id"], ctx.store.platform_id)


@route("GET", "/v1/webhook_endpoints")
def list_webhook_endpoints(ctx: Ctx) -> Obj:
    return list_objects(
        ctx,
        "webhook_endpoint",
        "/v1/webhook_endpoints",
        ids=ctx.store.ids(ctx.store.platform_id, "webhook_endpoint"),
    )


@route("GET", "/v1/webhook_endpoints/{id}")
def retrieve_webhook_endpoint(ctx: Ctx) -> Obj:
    return _endpoint(ctx)


@route("POST", "/v1/webhook_endpoints/{id}")
def update_webhook_endpoint(ctx: Ctx) -> Obj:
    endpoint = _endpoint(ctx)
    if "url" in ctx.params:
        endpoint["url"] = req_str(ctx.params, "url")
    if "enabled_events" in ctx.params:
        endpoint["enabled_events"] = [str(e) for e in get_list(ctx.params, "enabled_events")]
    disabled = get_bool(ctx.params, "disabled")
    if disabled is not None:
        endpoint["status"] = "disabled" if disabled else "enabled"
    if "description" in ctx.params:
        endpoint["description"] = get_str(ctx.params, "description")
    endpoint["metadata"] = merge_metadata(endpoint["metadata"], ctx.params)
    return endpoint


@route("DELETE", "/v1/webhook_endpoints/{id}")
def delete_webhook_endpoint(ctx: Ctx) -> Obj:
    endpoint = _endpoint(ctx)
    ctx.store.remove(endpoint["id"])
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
