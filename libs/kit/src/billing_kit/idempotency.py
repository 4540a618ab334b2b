"""``Idempotency-Key`` for our own POST endpoints: the same key with the same body replays the
stored response; the same key with another body is refused with 422.

The key row is inserted in the request's own transaction before the route runs, so a
concurrent request with the same key waits on that row's lock and then replays the first
one's response; if the first one failed (rolled back), the second simply runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Coroutine
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


def _scope(request: Request) -> str:
    """Keys are private to the caller's agency (or operator) so tenants cannot collide."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise UnauthenticatedError()
    principal = decode_token(auth[7:], request.app.state.jwt_secret)
    return principal.agency_id or f"operator:{principal.sub}"


class IdempotentRoute(APIRoute):
    """Route class that honours ``Idempotency-Key`` on POST."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if request.method != "POST" or not key:
                return await handle(request)
            if len(key) > 255:
                raise ValidationFailedError(f"{HEADER} must be at most 255 characters.")
            scope = _scope(request)
            body = await request.body()
            digest = hashlib.sha256(
                json.dumps(
                    [request.method, request.url.path, body.decode("utf-8", "replace")]
                ).encode()
            ).hexdigest()
            table: Table = request.app.state.idempotency_table
            async with unit_of_work(request.app.state.sessions) as session:
                stored = await _claim(session, table, scope, key, digest)
                if stored is not None:
                    return stored
                request.state.db_session = session
                response = await handle(request)
                if response.status_code < 500:
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


async def _claim(
    session: AsyncSession, table: Table, scope: str, key: str, digest: str
) -> Response | None:
    """Insert the key row (waiting for a concurrent holder), or return the stored response."""
    inserted = await session.execute(
        insert(table)
        .values(scope=scope, key=key, request_hash=digest)
        .on_conflict_do_nothing()
        .returning(table.c.key)
    )
    if inserted.first() is not None:
        return None
    row = (
        await session.execute(select(table).where(table.c.scope == scope, table.c.key == key))
    ).one()
    if row.request_hash != digest:
        raise ValidationFailedError(
            f"This {HEADER} was already used with a different request; use a new key."
        )
    return Response(
        content=row.body,
        status_code=row.status_code,
        media_type=row.media_type,
        headers={"Idempotent-Replayed": "true"},
    )
