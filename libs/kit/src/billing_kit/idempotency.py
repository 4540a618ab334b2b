"""``Idempotency-Key`` for our own POST endpoints: the same caller sending the same key with
the same request to the same route gets the stored response again; the same key with another
request is refused with 422. A replay is answered only after the request passed
authentication and its route's role checks, like a new one.

The key row is inserted in the request's own transaction just before the endpoint runs, so a
concurrent request with the same key waits on that row's lock and then replays the first
one's response; if the first one failed (rolled back), the second simply runs. For callers:
docs/api.md, "Idempotency".
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from billing_kit.auth import decode_token
from billing_kit.db import unit_of_work
from billing_kit.errors import UnauthenticatedError, ValidationFailedError

HEADER = "Idempotency-Key"


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(200), primary_key=True),
        Column("key", String(255), primary_key=True),
        Column("request_hash", String(64), nullable=False),
        Column("status_code", Integer),
        Column("body", LargeBinary),
        Column("media_type", String(100)),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


@dataclass
class _Pending:
    """A request carrying a key, between its arrival and the call of its endpoint."""

    session: AsyncSession
    table: Table
    scope: str
    key: str
    digest: str
    claimed: bool = False


_PENDING: ContextVar[_Pending | None] = ContextVar("idempotency_pending", default=None)


def current_key() -> tuple[str, str] | None:
    """``(scope, key)`` of the request being served when it carries an ``Idempotency-Key``:
    a command maps it to its pending record, so the same key always ends in the same Stripe
    objects, also after a first attempt that crashed before it could commit."""
    pending = _PENDING.get()
    return None if pending is None else (pending.scope, pending.key)


class _Replayed(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, response: Response) -> None:
        self.response = response


def _scope(request: Request, route: str) -> str | None:
    """Keys are private to one caller (agency and subject) on one route (method and path
    template), so a key never reaches another caller's response. None without a valid
    token: the request then fails authentication as it would without a key."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        return None
    try:
        principal = decode_token(auth[7:], request.app.state.jwt_secret)
    except UnauthenticatedError:
        return None
    owner = [principal.agency_id or "operator", principal.sub, request.method, route]
    return hashlib.sha256(json.dumps(owner).encode()).hexdigest()


def fingerprint(path: str, query: str, body: bytes) -> str:
    """The request's identity beside its key: path, query and body, the body compared as
    JSON when it is JSON (key order and whitespace do not matter)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(json.dumps([path, query, canonical]).encode()).hexdigest()


def _guarded(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, claiming the request's key first: it runs once authentication, roles
    and the other dependencies passed, so a replay is answered only to whom a new request
    would have been."""
    if getattr(endpoint, "claims_idempotency_key", False):  # a router included in another
        return endpoint
    is_async = inspect.iscoroutinefunction(endpoint)

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        pending = _PENDING.get()
        if pending is not None and not pending.claimed:
            stored = await _claim(pending)
            if stored is not None:
                raise _Replayed(stored)
        if is_async:
            return await endpoint(*args, **kwargs)
        return await run_in_threadpool(endpoint, *args, **kwargs)

    guarded.claims_idempotency_key = True  # type: ignore[attr-defined]
    return guarded


class IdempotentRoute(APIRoute):
    """Route class that honours ``Idempotency-Key`` on POST."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _guarded(endpoint), **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if request.method != "POST" or not key:
                return await handle(request)
            if len(key) > 255:
                raise ValidationFailedError(f"{HEADER} must be at most 255 characters.")
            scope = _scope(request, self.path_format)
            if scope is None:
                return await handle(request)
            body = await request.body()
            digest = fingerprint(request.url.path, request.url.query, body)
            table: Table = request.app.state.idempotency_table
            async with unit_of_work(request.app.state.sessions) as session:
                pending = _Pending(session, table, scope, key, digest)
                request.state.db_session = session
                reset = _PENDING.set(pending)
                try:
                    response = await handle(request)
                except _Replayed as replayed:
                    return replayed.response
                finally:
                    _PENDING.reset(reset)
                if pending.claimed and response.status_code < 500:
                    await session.execute(
                        table.update()
                        .where(table.c.scope == scope, table.c.key == key)
                        .values(
                            status_code=response.status_code,
                            body=bytes(response.body),
                            media_type=response.media_type,
                        )
                    )
            return response

        return route_handler


async def _claim(pending: _Pending) -> Response | None:
    """Insert the key row (waiting for a concurrent holder), or return the stored response."""
    table, session = pending.table, pending.session
    inserted = await session.execute(
        insert(table)
        .values(scope=pending.scope, key=pending.key, request_hash=pending.digest)
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted.first() is not None:
        pending.claimed = True
        return None
    row = (
        await session.execute(
            select(table).where(table.c.scope == pending.scope, table.c.key == pending.key)
        )
    ).one()
    if row.request_hash != pending.digest:
        raise ValidationFailedError(
            f"This {HEADER} was already used with a different request; use a new key."
        )
    return Response(
        content=row.body,
        status_code=row.status_code,
        media_type=row.media_type,
        headers={"Idempotent-Replayed": "true"},
    )
