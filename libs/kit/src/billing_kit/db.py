"""Async engine and sessions of one service's schema; the edge (request or consumer) owns the
transaction, services only flush."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """Metadata whose tables all live in ``schema`` (the service's own)."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def asyncpg_dsn(database_url: str) -> str:
    """The ``postgresql://`` DSN asyncpg takes, from the SQLAlchemy URL services are given."""
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_engine(database_url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    """The service's engine. No ping before each checkout (``pool_pre_ping``): it is a round
    trip per transaction, ~5 % of a consumer's CPU under load. A connection Postgres dropped
    (a restart) fails its next statement instead; SQLAlchemy then replaces every pooled
    connection older than that, the consumer applies its batch again (an outage error) and a
    request answers 503 ``unavailable`` once."""
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=1800,
        **kwargs,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


_STAGED = "billing_kit.staged"
T = TypeVar("T")


def staged(
    session: AsyncSession,
    key: str,
    make: Callable[[], T],
    write: Callable[[AsyncSession, T], Awaitable[None]],
) -> T:
    """The transaction's staging area ``key`` (``make()`` on first use), which ``write``
    writes last thing before the transaction commits: what many events of a batch gather
    (outbox rows, sums) goes out in one statement per table and in one row order, so two
    concurrent transactions never take the same rows in opposite orders."""
    area: dict[str, tuple[Any, Callable[[AsyncSession, Any], Awaitable[None]]]]
    area = session.info.setdefault(_STAGED, {})
    if key not in area:
        area[key] = (make(), write)
    found: T = area[key][0]
    return found


async def write_staged(session: AsyncSession) -> None:
    """Write what the transaction staged (``staged``); ``unit_of_work`` does it at commit."""
    area = session.info.pop(_STAGED, {})
    for data, write in area.values():
        await write(session, data)


@asynccontextmanager
async def savepoint(session: AsyncSession) -> AsyncIterator[None]:
    """A savepoint whose undoing also forgets what was staged inside it."""
    area = session.info.get(_STAGED, {})
    kept = {key: (copy.deepcopy(data), write) for key, (data, write) in area.items()}
    try:
        async with session.begin_nested():
            yield
    except BaseException:
        session.info[_STAGED] = kept
        raise


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: commit when the block ends normally (after writing what it staged),
    roll back on any error."""
    async with sessions() as session, session.begin():
        yield session
        await write_staged(session)


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    borrowed: AsyncSession | None = getattr(request.state, "db_session", None)
    if borrowed is not None:  # an outer edge (idempotent route) owns this transaction
        yield borrowed
        return
    async with unit_of_work(request.app.state.sessions) as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(_request_session, scope="function")]
"""Request dependency: the route's session, committed right after the route returns and
before the response is sent, so a client never sees a success that was not stored."""
