"""Values are bound with the driver's escaping; identifiers are checked, never escaped."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.db.sql import Identifier, bind, compose, identifier
from analytics.errors import ParameterError, QueryError, UnknownColumnError, UnknownTableError
from analytics.warehouse import column

HOSTILE = [
    "O'Reilly", "back\\slash\\", "'; DROP TABLE events; --", "nul\0byte", "Ёлки «ёлочки» 👍🏽",
    "x" * 10_240, "%(other)s %s %%", "\n\t\r\b\f\v\a", "\\'", "' OR 1=1 --", "`backtick`", "$$dollar$$",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_becomes_one_string_literal(value: str) -> None:
    sql = bind("SELECT %(v)s AS v", {"v": value})
    assert sql.startswith("SELECT '") and sql.endswith("' AS v")
    body = sql[len("SELECT '"):-len("' AS v")]
    # every quote inside the literal is escaped, so the literal cannot end early
    assert "'" not in body.replace("\\'", "")


def test_values_of_each_type() -> None:
    sql = bind("SELECT %(i)s, %(f)s, %(d)s, %(t)s, %(n)s, %(b)s, %(l)s",
               {"i": 7, "f": 1.5, "d": dt.date(2026, 1, 2), "t": dt.datetime(2026, 1, 2, 3, 4, 5),
                "n": None, "b": True, "l": [1, 2]})
    assert sql == "SELECT 7, 1.5, '2026-01-02', '2026-01-02 03:04:05', NULL, 1, [1, 2]"


def test_aware_datetime_is_converted_to_utc() -> None:
    moscow = dt.timezone(dt.timedelta(hours=3))
    assert bind("%(t)s", {"t": dt.datetime(2026, 1, 2, 3, 0, tzinfo=moscow)}) == "'2026-01-02 00:00:00'"


@pytest.mark.parametrize("value", [object(), {"a": 1}, float("nan"), b"bytes", [object()]])
def test_unsupported_values_are_refused(value: object) -> None:
    with pytest.raises(ParameterError, match="'v'"):
        bind("SELECT %(v)s", {"v": value})


def test_missing_parameter_is_named() -> None:
    with pytest.raises(ParameterError, match="'start'"):
        bind("SELECT %(start)s, %(end)s", {"end": 1})


def test_stray_percent_with_params_is_explained() -> None:
    with pytest.raises(QueryError, match="write a literal % as %%"):
        bind("SELECT 1 WHERE name LIKE 'a%' AND id = %(id)s", {"id": 1})


def test_sql_without_params_is_untouched() -> None:
    assert bind("SELECT 'a%' LIKE '%'", None) == "SELECT 'a%' LIKE '%'"


def test_identifier_checked_against_known_names() -> None:
    assert identifier("user_id", ["user_id"]).quoted == "`user_id`"
    with pytest.raises(UnknownColumnError, match="Allowed columns: user_id"):
        identifier("user_id`; DROP TABLE x; --", ["user_id"])
    with pytest.raises(UnknownTableError):
        identifier("nope", ["events"], kind="table")


def test_warehouse_catalog_refuses_unknown_columns_without_a_database() -> None:
    assert column("cards", "card_number") == "card_number"
    with pytest.raises(UnknownColumnError, match="no column named 'card_numbr' in table 'cards'"):
        column("cards", "card_numbr")


def test_compose_takes_only_checked_identifiers() -> None:
    cols = [Identifier("a"), Identifier("b")]
    assert compose("SELECT {c} FROM {t}", c=cols, t=Identifier("t")) == "SELECT `a`, `b` FROM `t`"
    with pytest.raises(TypeError):
        compose("SELECT {c} FROM t", c="a; DROP TABLE t")


def test_the_escaping_is_the_drivers_own_even_where_the_driver_is_not_loaded() -> None:
    """The embedded store's kernels load clickhouse-driver's escape module without its client; the SQL is the
    one the loaded driver would write, byte for byte."""
    from clickhouse_driver.util.escape import escape_params  # noqa: PLC0415 - the driver as a server kernel has it

    from analytics.db import sql  # noqa: PLC0415

    values = {f"v{n}": value for n, value in enumerate(HOSTILE)} | {"d": dt.date(2026, 1, 2), "l": ["a'", 1]}
    assert sql.escape_params(values, sql._UTC_CONTEXT) == escape_params(values, sql._UTC_CONTEXT)
