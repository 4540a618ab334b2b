"""All emulator state, in memory: objects by id, their owning account, a clock, events."""

from __future__ import annotations

import asyncio
import os
import pickle
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stripe_emulator.errors import resource_missing

Obj = dict[str, Any]
EventListener = Callable[[Obj], None]

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits
# Ids only need to be unique and unguessable enough for tests; a seeded PRNG is 40x faster.
_RNG = random.Random(os.urandom(32))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_" + "".join(_RNG.choices(_ALPHABET, k=length))


def snapshot(obj: Any) -> Any:
    """A deep copy of plain JSON data (fast path through pickle)."""
    return pickle.loads(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


def changed(before: Obj, after: Obj) -> dict[str, Any]:
    """Stripe's `previous_attributes`: the top-level values of `before` that `after` changed."""
    return {k: v for k, v in before.items() if after.get(k) != v}


STATE_FORMAT = 1
_KEPT = (
    "platform_id",
    "clock_offset",
    "objects",
    "owner",
    "meta",
    "index",
    "idempotency",
    "base_url",
    "settings",
)


@dataclass
class IdempotentResponse:
    fingerprint: str
    status: int
    body: bytes


@dataclass
class RequestInfo:
    id: str | None = None
    idempotency_key: str | None = None
    base_url: str = "http://127.0.0.1:12111"


@dataclass
class Store:
    """The emulator's whole state. Mutated only while `lock` is held.

    The platform account object is added by its owner (`rules.accounts.open_platform`).
    """

    platform_id: str = field(default_factory=lambda: new_id("acct", 16))
    clock_offset: float = 0.0
    objects: dict[str, Obj] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    index: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotentResponse] = field(default_factory=dict)
    listeners: list[EventListener] = field(default_factory=list)
    request: RequestInfo = field(default_factory=RequestInfo)
    base_url: str = "http://127.0.0.1:12111"
    settings: dict[str, Any] = field(
        default_factory=lambda: {
            "subscription_failed_payment_action": "cancel",
            "send_invoice_past_due_action": "past_due",
            "send_invoice_past_due_days": 30,
        }
    )
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    served: dict[tuple[str, str], int] = field(default_factory=dict)
    """API calls answered since the last reset, by (acting account, "METHOD handler"): what
    a client asked of Stripe, for tests and measurements (not kept across restarts)."""
    # Bumped by every request that may change state; the state file is written when it moved.
    revision: int = 0

    # clock -----------------------------------------------------------------
    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    def set_now(self, timestamp: int) -> None:
        self.clock_offset = max(self.clock_offset, timestamp - time.time())

    def reset(self) -> None:
        """Forget everything but the listeners and the lock (a new platform account id)."""
        listeners, lock, revision = self.listeners, self.lock, self.revision
        fresh = Store()
        self.__dict__.update(fresh.__dict__)
        self.listeners, self.lock, self.revision = listeners, lock, revision + 1

    # keeping state across restarts ------------------------------------------
    def dump(self) -> bytes:
        """The state worth keeping (objects, ids, clock, settings, idempotency keys)."""
        kept = {name: getattr(self, name) for name in _KEPT}
        return pickle.dumps({"format": STATE_FORMAT, **kept}, pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        """Take back what `dump` wrote; the listeners and the lock stay."""
        state = pickle.loads(data)
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not an emulator state of this version")
        for name in _KEPT:
            setattr(self, name, state[name])

    # objects ---------------------------------------------------------------
    def add(self, obj: Obj, account: str, kind: str | None = None) -> Obj:
        object_id = obj["id"]
        kind = kind or obj["object"]
        self.objects[object_id] = obj
        self.owner[object_id] = account
        self.index.setdefault((account, kind), []).append(object_id)
        return obj

    def find(self, object_id: str) -> Obj | None:
        return self.objects.get(object_id)

    def get(self, kind: str, object_id: Any, account: str, param: str = "id") -> Obj:
        label = kind.replace("_", " ")
        if not isinstance(object_id, str):
            raise resource_missing(label, str(object_id), param)
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind or self.owner.get(object_id) != account:
            raise resource_missing(label, object_id, param)
        return obj

    def ids(self, account: str, kind: str) -> list[str]:
        return self.index.get((account, kind), [])

    def all_of(self, kind: str) -> list[tuple[str, Obj]]:
        """Every `kind` object of the accounts the platform can still reach."""
        out: list[tuple[str, Obj]] = []
        for (account, k), ids in self.index.items():
            if k == kind and self.accessible(account):
                out.extend((account, self.objects[i]) for i in ids if i in self.objects)
        return out

    def remove(self, object_id: str) -> None:
        obj = self.objects.pop(object_id, None)
        account = self.owner.pop(object_id, None)
        if obj is not None and account is not None:
            ids = self.index.get((account, obj["object"]))
            if ids and object_id in ids:
                ids.remove(object_id)

    def hidden(self, object_id: str) -> dict[str, Any]:
        """Attributes we track that Stripe does not show on the object."""
        return self.meta.setdefault(object_id, {})

    def connected_account(self, account_id: str) -> Obj | None:
        """The account, unless it does not exist, was deleted or revoked the platform's access."""
        obj = self.objects.get(account_id)
        if obj is None or obj.get("object") != "account":
            return None
        if self.meta.get(account_id, {}).get("deauthorized"):
            return None
        return obj

    def accessible(self, account_id: str) -> bool:
        """Whether the platform can still act for `account_id` (and hear of its events)."""
        return account_id == self.platform_id or self.connected_account(account_id) is not None

    # events ----------------------------------------------------------------
    def emit(
        self,
        type_: str,
        obj: Obj,
        account: str,
        previous_attributes: dict[str, Any] | None = None,
    ) -> Obj:
        data: dict[str, Any] = {"object": snapshot(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        event: Obj = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": self.request.id, "idempotency_key": self.request.idempotency_key},
            "type": type_,
        }
        if account != self.platform_id:
            event["account"] = account
        self.add(event, account)
        if not self.accessible(account):
            return event  # a disconnected account's events no longer reach the platform
        for listener in self.listeners:
            listener(event)
        return event
