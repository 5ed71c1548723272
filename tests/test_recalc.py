"""Recalculation: each day recomputed and swapped in whole; a kill mid-write leaves every day old or new."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import Database, load_settings
from analytics.errors import ParameterError
from analytics.recalc import DAILY_PARTNER_ACTIVITY, DAY_SQL, days_between, recalculate

REPO = Path(__file__).resolve().parents[1]
OLD = 10 ** 9  # the marker of the rows before a recalculation


def days_of(db: Database, first_offset: int, count: int) -> list[dt.date]:
    latest = db.scalar("SELECT max(event_date) FROM events")
    return [latest - dt.timedelta(days=first_offset - index) for index in range(count)]


def stored_days(db: Database, days: list[dt.date]) -> dict[dt.date, list[tuple[int, int, int]]]:
    rows = db.query_arrow("SELECT day, partner_id, card_adds, active_users FROM daily_partner_activity"
                          " WHERE day >= %(a)s AND day <= %(b)s ORDER BY day, partner_id", {"a": days[0], "b": days[-1]})
    found: dict[dt.date, list[tuple[int, int, int]]] = {}
    for row in rows.to_pylist():
        found.setdefault(row["day"], []).append((row["partner_id"], row["card_adds"], row["active_users"]))
    return found


def fresh(db: Database, day: dt.date) -> list[tuple[int, int, int]]:
    rows = db.query_arrow(DAY_SQL, {"day": day, "now": dt.datetime(2026, 1, 1)}).to_pylist()
    return [(row["partner_id"], row["card_adds"], row["active_users"]) for row in rows]


def seed_old(db: Database, days: list[dt.date]) -> None:
    """Every day filled with marked rows, as an older definition of the aggregate might have left it."""
    db.create_table(DAILY_PARTNER_ACTIVITY)
    db.replace_partitions(DAILY_PARTNER_ACTIVITY.name, {day: DAILY_PARTNER_ACTIVITY.arrow({
        "day": [day] * 3, "partner_id": [1, 2, 3], "card_adds": [OLD] * 3, "active_users": [OLD] * 3,
        "computed_at": [dt.datetime(2026, 1, 1)] * 3}) for day in days})


def test_days_are_recomputed_with_a_before_and_after_and_a_rerun_changes_nothing(db: Database) -> None:
    days = days_of(db, 20, 4)
    seed_old(db, days)
    said: list[str] = []
    changes = recalculate(db, days[0], days[-1], say=said.append)
    assert len(said) == 4 and said[0].startswith("Day 1 of 4")
    assert changes.column("rows_before").to_pylist() == [3] * 4
    assert changes.column("card_adds_before").to_pylist() == [3 * OLD] * 4
    assert changes.column("changed").to_pylist() == ["yes"] * 4
    assert stored_days(db, days) == {day: fresh(db, day) for day in days}
    again = recalculate(db, days[0], days[-1])
    assert again.column("changed").to_pylist() == [""] * 4  # same rows, one copy
    assert again.column("rows_after").to_pylist() == [len(fresh(db, day)) for day in days]


CHILD = """
import datetime as dt, os, signal, sys
from analytics import connect
from analytics.recalc import recalculate

url, first, last = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
with connect(url) as db:
    replace, calls = db.replace_partitions, []

    def dying(table, partitions):
        calls.append(1)
        if len(calls) < 4:
            return replace(table, partitions)
        (day, rows), = partitions.items()

        def halfway():
            yield rows.slice(0, rows.num_rows // 2)
            os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of the fourth day's write
            yield rows.slice(rows.num_rows // 2)
        return replace(table, {day: halfway()})

    db.replace_partitions = dying
    recalculate(db, first, last)
"""


def test_a_recalculation_killed_halfway_leaves_every_day_wholly_old_or_new(db: Database, db_url: str) -> None:
    days = days_of(db, 40, 6)
    seed_old(db, days)
    child = subprocess.run([sys.executable, "-c", CHILD, db_url, days[0].isoformat(), days[-1].isoformat()],
                           capture_output=True, text=True, timeout=180, env={**os.environ, "PYTHONPATH": str(REPO / "lib")})
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    old = [(partner, OLD, OLD) for partner in (1, 2, 3)]
    stored = stored_days(db, days)
    states = ["new" if stored[day] == fresh(db, day) else "old" if stored[day] == old else "mixed" for day in days]
    assert states == ["new", "new", "new", "old", "old", "old"]
    recalculate(db, days[0], days[-1])
    assert stored_days(db, days) == {day: fresh(db, day) for day in days}


def test_a_reversed_or_too_long_range_is_a_plain_message() -> None:
    with pytest.raises(ParameterError, match="on or after the first day"):
        days_between(dt.date(2026, 11, 10), dt.date(2026, 11, 1))
    with pytest.raises(ParameterError, match="at most 366 days"):
        days_between(dt.date(2025, 1, 1), dt.date(2026, 11, 1))


def test_a_day_without_events_becomes_empty(scratch_store: Database) -> None:
    from analytics.warehouse.schema import WAREHOUSE

    scratch_store.create_table(WAREHOUSE["events"])
    day = dt.date(2026, 11, 1)
    around = [day - dt.timedelta(days=1), day + dt.timedelta(days=1)]  # a quiet day between days with events
    scratch_store.insert("events", WAREHOUSE["events"].arrow({
        "event_time": [dt.datetime.combine(other, dt.time(12)) for other in around], "event_date": around,
        "user_id": [1, 2], "event": ["app_open"] * 2, "partner_id": [1, 1], "scenario": [""] * 2, "step": [0, 0],
        "error_code": [""] * 2, "platform": ["ios"] * 2, "app_version": ["1.0"] * 2}))
    seed_old(scratch_store, [day])
    changes = recalculate(scratch_store, day, day)
    assert changes.to_pylist()[0] | {"day": None} == {
        "day": None, "rows_before": 3, "rows_after": 0, "card_adds_before": 3 * OLD, "card_adds_after": 0,
        "active_users_before": 3 * OLD, "active_users_after": 0, "changed": "yes"}
    assert isinstance(changes, pa.Table)


def test_days_after_the_newest_data_are_refused_naming_it_and_nothing_changes(db: Database) -> None:
    latest = db.scalar("SELECT max(event_date) FROM events")
    later = [latest + dt.timedelta(days=offset) for offset in (1, 2)]
    seed_old(db, [latest - dt.timedelta(days=1), *later])
    before = stored_days(db, [latest - dt.timedelta(days=1), later[-1]])
    with pytest.raises(ParameterError, match=f"there are no events for {later[0]:%d.%m.%Y}–{later[1]:%d.%m.%Y}: "
                                             f"the newest day with events is {latest:%d.%m.%Y}. Nothing was recalculated"):
        recalculate(db, later[0], later[1])
    with pytest.raises(ParameterError, match=f"no events after {latest:%d.%m.%Y}, the newest day with events; choose "
                                             "it or an earlier day"):
        recalculate(db, latest - dt.timedelta(days=1), later[1])  # partly covered: the library writes no day of it
    assert stored_days(db, [latest - dt.timedelta(days=1), later[-1]]) == before


def test_the_page_recomputes_the_covered_days_and_names_those_skipped(embedded: Database, embedded_url: str,
                                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics.pipeline import commit
    from analytics.reports.recalculation import recalculate_days
    from analytics.testing.runs import run_context

    ctx = run_context(embedded, load_settings(home=tmp_path, db_url=embedded_url))
    latest = embedded.scalar("SELECT max(event_date) FROM events")
    asked = [latest - dt.timedelta(days=1), latest, latest + dt.timedelta(days=1), latest + dt.timedelta(days=2)]
    seed_old(embedded, asked)
    plan = recalculate_days(ctx, asked[0], asked[-1])
    assert stored_days(embedded, asked[:2]) == {day: [(partner, OLD, OLD) for partner in (1, 2, 3)] for day in asked[:2]}
    query = commit(plan, ctx)  # planned first: nothing was written until the commit
    assert query.data.column("day").to_pylist() == asked[:2] and query.effective == {"start": asked[0], "end": latest}
    assert query.title.endswith(f"{asked[0]:%d.%m.%Y}–{latest:%d.%m.%Y}")  # the title claims only what was done
    assert query.facts[1] == (f"{asked[2]:%d.%m.%Y}–{asked[3]:%d.%m.%Y} skipped: there are no events after "
                              f"{latest:%d.%m.%Y}, the newest day with events; those days were not changed.")
    old = [(partner, OLD, OLD) for partner in (1, 2, 3)]
    assert stored_days(embedded, asked[2:]) == {asked[2]: old, asked[3]: old}
    with pytest.raises(ParameterError, match=f"no events for {asked[2]:%d.%m.%Y}: the newest day with events is "):
        recalculate_days(ctx, asked[2])  # the last day left empty: nothing after the newest day either
