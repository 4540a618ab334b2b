"""Statements of one text whatever the number of rows (``billing_kit.sql_arrays``), as
asyncpg is given them: one array a list, strings cast without their length (a longer value
is refused by its column, not cut short by the cast), a JSON list one value of its array."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import BigInteger, ClauseElement, Column, MetaData, String, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import Dialect

from billing_kit.sql_arrays import any_of, arrays, unnest_insert

pytestmark = pytest.mark.unit

_TABLE = Table(
    "things",
    MetaData(),
    Column("key", String(5), primary_key=True),
    Column("amount", BigInteger, nullable=False, default=0),
    Column("told", JSONB(none_as_null=True)),
)


DIALECT: Dialect = asyncpg_dialect()  # type: ignore[no-untyped-call]


def _sql(statement: ClauseElement) -> str:
    return str(statement.compile(dialect=DIALECT))


def test_keys_are_one_array_cast_without_the_column_s_length() -> None:
    assert _sql(any_of(_TABLE.c.key, "keys")) == "things.key = ANY ($1::VARCHAR[])"


def test_rows_are_inserted_from_one_array_a_column_the_others_take_their_defaults() -> None:
    sql = _sql(unnest_insert(_TABLE, ["key", "told"]))
    assert sql.startswith("INSERT INTO things (key, told, amount) SELECT given.key, given.told, $1")
    assert "FROM unnest($2::VARCHAR[], $3::JSONB[]) AS given(key, told)" in sql


def test_a_json_list_is_one_value_of_its_array() -> None:
    told = unnest_insert(_TABLE, ["told"]).compile(dialect=DIALECT).binds["told"].type
    process = told.dialect_impl(DIALECT).bind_processor(DIALECT)
    assert process is not None
    assert process([[1, 2], None, {"a": 1}]) == ["[1, 2]", None, '{"a": 1}']


def test_arrays_are_the_rows_columns_in_their_order() -> None:
    rows: list[dict[str, Any]] = [{"key": "b", "told": None}, {"key": "a", "told": [1]}]
    assert arrays(rows, ["key", "told"]) == {"key": ["b", "a"], "told": [None, [1]]}
