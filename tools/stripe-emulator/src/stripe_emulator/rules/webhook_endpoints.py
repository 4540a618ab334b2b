"""Webhook endpoints: each has a signing secret and receives platform or Connect events."""

from __future__ import annotations

from stripe_emulator.shapes.common import webhook_endpoint_shape
from stripe_emulator.store import Obj, Store, new_id


def register_endpoint(
    store: Store, url: str, *, connect: bool, secret: str | None, events: list[str]
) -> Obj:
    endpoint = webhook_endpoint_shape(new_id("we"), store.now(), url, events or ["*"])
    store.add(endpoint, store.platform_id)
    hidden = store.hidden(endpoint["id"])
    hidden["secret"] = secret or new_id("whsec", 32)
    hidden["connect"] = connect
    return endpoint
