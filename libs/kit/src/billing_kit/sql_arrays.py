"""Statements whose text is the same whatever the number of rows they take: a list of keys
bound as one array (``column = ANY(:keys)``) rather than ``IN`` with a placeholder per key,
and rows inserted from one array per column (``INSERT … SELECT … FROM unnest(:a, :b, …)``)
rather than a ``VALUES`` row per row (SQLAlchemy's "insertmanyvalues" for an
``INSERT … RETURNING`` given a list of parameters).

A text that changes with the batch's size is compiled anew by SQLAlchemy, prepared anew by
asyncpg on each pooled connection (its statement cache holds a hundred) and parsed and
planned anew by Postgres; one text is compiled once, prepared once a connection, and its
rows are inserted by one execution however many they are.

Build each statement once (at import or in a cache) and give it its arrays as parameters:
SQLAlchemy then reuses the statement's cache key as well."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.types import TypeEngine


def _array_of(type_: TypeEngine[Any]) -> ARRAY[Any]:
    """A one-dimensional array of ``type_``'s values (a JSON value that is a list stays one
    value), a string's without its length: a cast to ``varchar(n)[]`` would cut a longer
    value short, where the column refuses it."""
    affinity = type_._type_affinity  # (a ``TypeDecorator``'s is its implementation's)
    if affinity is not None and issubclass(affinity, String):
        return ARRAY(String(), dimensions=1)
    return ARRAY(type_, dimensions=1)


def any_of(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """``column = ANY(:name)``: the values of ``column`` in the list given as ``name``."""
    return column == any_(bindparam(name, type_=_array_of(column.type)))


def unnest_insert(table: Table, columns: Sequence[str]) -> Insert:
    """``INSERT INTO table (columns) SELECT … FROM unnest(:column, …)``: one row per index of
    the arrays given by column name (``arrays``), in their order. Columns not named take
    their defaults as a ``VALUES`` insert gives them (scalar defaults are bound, server
    defaults the database's)."""
    rows = (
        func.unnest(*(bindparam(name, type_=_array_of(table.c[name].type)) for name in columns))
        .table_valued(*columns)
        .render_derived(name="given")
    )
    return insert(table).from_select(list(columns), select(*(rows.c[name] for name in columns)))


def arrays(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """``unnest_insert``'s parameters: each column's values, in the rows' order."""
    found: dict[str, list[Any]] = {name: [] for name in columns}
    for row in rows:
        for name in columns:
            found[name].append(row[name])
    return found
