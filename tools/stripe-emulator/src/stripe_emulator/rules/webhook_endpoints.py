"""Webhook endpoints: each has a signing secret and receives platform or Connect events."""

from __future__ import annotations

from stripe_emulator.shapes.common import webhook_endpoint_shape
from stripe_emulator.store import Obj, Store, new_id


def register_endpoint(
    store: Store,
    url: str,
    *,
    connect: bool,
    secret: str | None,
    events: list[str],
    reuse: bool = False,
) -> Obj:
    """A new endpoint; with `reuse`, the endpoint already registered for `url` (and the same
    `connect`) takes the new secret and events instead, so a stack registering its receivers
    at every start over a kept state does not get each event twice."""
    found = _registered(store, url, connect) if reuse else None
    endpoint = found or webhook_endpoint_shape(new_id("we"), store.now(), url, events or ["*"])
    if found is None:
        store.add(endpoint, store.platform_id)
    endpoint["enabled_events"] = events or ["*"]
    hidden = store.hidden(endpoint["id"])
    hidden["secret"] = secret or hidden.get("secret") or new_id("whsec", 32)
    hidden["connect"] = connect
    return endpoint


def _registered(store: Store, url: str, connect: bool) -> Obj | None:
    for endpoint_id in store.ids(store.platform_id, "webhook_endpoint"):
        endpoint = store.objects[endpoint_id]
        if endpoint["url"] == url and bool(store.hidden(endpoint_id).get("connect")) == connect:
            return endpoint
    return None
