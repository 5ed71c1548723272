"""The database layer against both backends: the real server and the embedded store."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from analytics import Database, TableSpec, connect, load_settings
from analytics.errors import (
    DatabaseError,
    QueryTimeoutError,
    ResultTooLargeError,
    SqlSyntaxError,
    UnknownColumnError,
    UnknownTableError,
)
from analytics.warehouse import WAREHOUSE

from .test_sql_binding import HOSTILE


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_come_back_unchanged(db: Database, value: str) -> None:
    result = db.query("SELECT %(v)s AS v, count() AS n FROM partners WHERE name = %(v)s", {"v": value})
    assert result.v[0] == value
    assert result.n[0] == 0  # the value never altered the query
    assert "partners" in db.tables()


def test_partner_names_with_quotes_match_exactly(db: Database) -> None:
    names = db.query("SELECT name FROM partners").name.tolist()
    for name in [n for n in names if "'" in n or '"' in n or "«" in n]:
        assert db.scalar("SELECT count() FROM partners WHERE name = %(n)s", {"n": name}) == 1


def test_unknown_column_is_refused_before_the_database(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "_stream", lambda *a: pytest.fail("the query reached the database"))
    monkeypatch.setattr(db, "columns", lambda table: dict(WAREHOUSE["cards"].columns))
    with pytest.raises(UnknownColumnError, match="Allowed columns: card_id"):
        db.columns_checked("cards", ["card_number", "card_number FROM users --"])


def test_introspection_matches_the_catalog(db: Database) -> None:
    for name, spec in WAREHOUSE.items():
        assert db.columns(name) == spec.columns
    with pytest.raises(UnknownTableError, match="no table named 'no_such_table'"):
        db.columns("no_such_table")


def test_types_survive_the_round_trip(db: Database) -> None:
    cards = db.query("SELECT card_number, barcode, added_at, deleted_at FROM cards ORDER BY card_id LIMIT 2000")
    assert all(isinstance(number, str) for number in cards.card_number)
    assert any(number.startswith("0") for number in cards.card_number)
    assert pd.api.types.is_datetime64_any_dtype(cards.added_at)
    assert pd.api.types.is_datetime64_any_dtype(cards.deleted_at) and cards.deleted_at.isna().any()
    day = db.query("SELECT event_date FROM events LIMIT 1").event_date[0]
    assert isinstance(day, dt.date)


def test_streaming_yields_every_row_in_chunks(db: Database) -> None:
    chunks = list(db.iter_chunks("SELECT user_id, event FROM events"))
    assert sum(chunk.num_rows for chunk in chunks) == db.scalar("SELECT count() FROM events")
    assert len(chunks) > 1 and all(isinstance(chunk, pa.Table) for chunk in chunks)
    rows = list(db.iter_rows("SELECT partner_id, name FROM partners ORDER BY partner_id LIMIT 3"))
    assert rows[0][0] == 1 and isinstance(rows[0][1], str)


def test_empty_result_keeps_its_columns(db: Database) -> None:
    empty = db.query("SELECT card_number, added_at FROM cards WHERE partner_id = 999999")
    assert list(empty.columns) == ["card_number", "added_at"] and len(empty) == 0


def test_insert_dataframe_and_read_back(db: Database) -> None:
    table = "test_insert_" + db.kind
    db.drop_table(table)
    db.create_table(TableSpec(table, {"id": "UInt64", "text": "String", "at": "DateTime", "maybe": "Nullable(DateTime)"},
                              order_by=("id",)))
    frame = pd.DataFrame({"id": [1, 2, 3], "text": HOSTILE[:3],
                          "at": pd.to_datetime(["2026-01-01 10:00:00"] * 3),
                          "maybe": [None, dt.datetime(2026, 2, 1), None]})
    assert db.insert(table, frame) == 3
    back = db.query("SELECT * FROM " + db.table(table).quoted + " ORDER BY id")
    assert back.text.tolist() == HOSTILE[:3]
    assert back.maybe.isna().tolist() == [True, False, True]
    with pytest.raises(UnknownColumnError):
        db.insert(table, frame.assign(extra=1))
    with pytest.raises(DatabaseError, match="does not fit"):
        db.insert(table, frame.assign(id=["not a number"] * 3))
    db.drop_table(table)
    assert table not in db.tables()


def test_syntax_error_names_the_position(db: Database) -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        db.query("SELECT count( FROM events")
    assert caught.value.position is not None and "syntax error at character" in str(caught.value)


def test_unknown_table_and_column_from_the_server(db: Database) -> None:
    with pytest.raises(UnknownTableError, match="no_such"):
        db.query("SELECT * FROM no_such")
    with pytest.raises(UnknownColumnError, match="no_such_column"):
        db.query("SELECT no_such_column FROM events")


def test_query_past_its_time_limit(db_url: str) -> None:
    with connect(db_url, load_settings(query_timeout_seconds=1)) as db:
        with pytest.raises(QueryTimeoutError, match="time limit of 1 seconds"):
            db.query("SELECT count() FROM system.numbers WHERE number % 7 = 3")


def test_result_row_limit(db_url: str) -> None:
    with connect(db_url, load_settings(max_result_rows=1000)) as db:
        with pytest.raises(ResultTooLargeError, match="Narrow the filters"):
            db.query("SELECT user_id FROM events")
        assert sum(c.num_rows for c in db.iter_chunks("SELECT user_id FROM events")) > 1000  # exports stream


def test_sql_written_for_clickhouse_18_runs_on_both(db: Database) -> None:
    """A join on an unaliased subquery (18.16 style) and toMonday work on both backends."""
    report = db.query(
        "SELECT push_id, sent, opened FROM pushes ALL INNER JOIN ("
        " SELECT push_id, count() AS sent, countIf(isNotNull(opened_at)) AS opened FROM push_deliveries GROUP BY push_id"
        ") USING push_id ORDER BY push_id")
    assert len(report) == db.scalar("SELECT count() FROM pushes") and (report.sent >= report.opened).all()
    weeks = db.query("SELECT toMonday(event_date) AS week, count() AS n FROM events GROUP BY week ORDER BY week")
    assert all(week.weekday() == 0 for week in weeks.week)
