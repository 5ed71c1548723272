"""The keyed write-then-commit on both backends: invisible until committed, one winner, re-runnable, kill-safe."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import Database, TableSpec
from analytics.ledger import Committed, Ledger
from analytics.raffle.draws import LEDGER as DRAW_LEDGER

REPO = Path(__file__).resolve().parents[1]
DAY, NOW = dt.date(2026, 11, 9), dt.datetime(2026, 11, 20, 12, 0)

COMMITS = TableSpec("ledger_probe_commits", {
    "name": "String", "day": "Date", "version": "UInt32", "write_id": "String", "rows": "UInt32", "made_at": "DateTime",
}, key=("name", "day"), version="version")
ROWS = TableSpec("ledger_probe_rows", {"name": "String", "day": "Date", "write_id": "String", "n": "UInt32"},
                 order_by=("name", "day", "n"))
LEDGER = Ledger(COMMITS, stamp="made_at", prefix="probe")


def key_of(name: str) -> dict[str, object]:
    return {"name": name, "day": DAY}


def write(db: Database, name: str, rows: int, *, version: int | None = None, write_id: str | None = None,
          hooks: Mapping[str, Callable[[], object]] | None = None) -> Committed:
    """One keyed write of ``rows`` rows in two parts; ``hooks`` run between the parts and before the commit."""
    for spec in (COMMITS, ROWS):
        db.create_table(spec)
    hooks = hooks or {}
    write_id = write_id or LEDGER.write_id()
    version = version or LEDGER.next_version(db, key_of(name))
    data = pa.table({"name": [name] * rows, "day": [DAY] * rows, "write_id": [write_id] * rows,
                     "n": pa.array(range(rows), pa.uint32())})
    LEDGER.add_rows(db, ROWS, data.slice(0, rows // 2), write_id, "first")
    hooks.get("between_parts", lambda: None)()
    LEDGER.add_rows(db, ROWS, data.slice(rows // 2), write_id, "second")
    hooks.get("before_commit", lambda: None)()
    return LEDGER.commit(db, {**key_of(name), "version": version, "write_id": write_id, "rows": rows, "made_at": NOW})


def visible(db: Database, name: str, *, current: bool = True) -> list[tuple[str, int]]:
    """(write id, n) of the rows a reader sees: only committed writes (``current``: the current version's)."""
    sql = ("SELECT write_id, n FROM ledger_probe_rows WHERE name = %(name)s AND "
           + LEDGER.committed("name = %(name)s AND day = %(day)s", current=current) + " ORDER BY write_id, n")
    return [tuple(row.values()) for row in db.query_arrow(sql, key_of(name)).to_pylist()]


def written(db: Database, name: str) -> int:
    return db.scalar("SELECT count() FROM ledger_probe_rows WHERE name = %(name)s", {"name": name})


def unique_name() -> str:
    return f"probe_{uuid.uuid4().hex[:10]}"


def test_a_write_is_invisible_until_its_commit_lands_and_then_whole(db: Database) -> None:
    name = unique_name()
    seen: list[object] = []
    hook = {"before_commit": lambda: seen.extend([LEDGER.current(db, key_of(name)), visible(db, name), written(db, name)])}
    committed = write(db, name, 6, hooks=hook)
    assert seen == [None, [], 6]  # the rows are there, and nobody sees them
    assert committed.won and committed.row["version"] == 1
    assert LEDGER.current(db, key_of(name)) == committed.row
    assert visible(db, name) == [(committed.row["write_id"], n) for n in range(6)]


def test_of_two_writers_that_chose_one_version_exactly_one_becomes_it(db: Database) -> None:
    name = unique_name()
    assert LEDGER.next_version(db, key_of(name)) == 1  # both writers decided "version 1" before either committed
    first = write(db, name, 3, version=1)
    second = write(db, name, 5, version=1)
    assert first.won and not second.won
    assert second.row == first.row  # the loser learns who won
    assert [row["write_id"] for row in LEDGER.history(db, key_of(name))] == [first.row["write_id"]]
    assert visible(db, name) == visible(db, name, current=False) == [(first.row["write_id"], n) for n in range(3)]
    assert written(db, name) == 8  # the loser's rows are stored, and invisible


def test_a_rerun_with_the_same_write_id_stores_one_copy(db: Database) -> None:
    name, write_id = unique_name(), LEDGER.write_id()
    first = write(db, name, 4, write_id=write_id, version=1)
    again = write(db, name, 4, write_id=write_id, version=1)
    assert first.won and not again.won and again.row == first.row  # audited once
    assert written(db, name) == 4 and len(visible(db, name)) == 4


def test_history_lists_every_version_in_order(db: Database) -> None:
    name = unique_name()
    made = [write(db, name, rows).row for rows in (2, 3, 4)]
    history = LEDGER.history(db, key_of(name))
    assert [row["version"] for row in history] == [1, 2, 3] and history == made
    assert LEDGER.version(db, key_of(name), 2) == made[1] and LEDGER.version(db, key_of(name), 4) is None
    assert LEDGER.current(db, key_of(name)) == made[2] and LEDGER.next_version(db, key_of(name)) == 4
    assert [n for write_id, n in visible(db, name) if write_id == made[2]["write_id"]] == [0, 1, 2, 3]
    assert len(visible(db, name, current=False)) == 2 + 3 + 4
    assert LEDGER.history(db, key_of(unique_name())) == []


CHILD = """
import os, signal, sys
from analytics import connect
from tests.test_ledger import write
db_url, name, moment = sys.argv[1:4]
with connect(db_url) as db:
    write(db, name, 10, hooks={moment: lambda: os.kill(os.getpid(), signal.SIGKILL)})
print("finished")
"""


@pytest.mark.parametrize("moment", ["between_parts", "before_commit"])
def test_a_write_killed_before_its_commit_leaves_the_old_version_and_the_rerun_the_new(
        db: Database, db_url: str, moment: str) -> None:
    name = unique_name()
    old = write(db, name, 3).row
    child = subprocess.run([sys.executable, "-c", CHILD, db_url, name, moment], capture_output=True, text=True,
                           timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": f"{REPO / 'lib'}{os.pathsep}{REPO}"})
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert written(db, name) > 3  # the killed write left rows behind
    assert LEDGER.current(db, key_of(name)) == old  # wholly old
    assert visible(db, name) == visible(db, name, current=False) == [(old["write_id"], n) for n in range(3)]
    new = write(db, name, 10)
    assert new.won and new.row["version"] == 2  # wholly new
    assert visible(db, name) == [(new.row["write_id"], n) for n in range(10)]


def test_commit_tokens_keep_the_form_the_raffle_always_used_and_hash_what_could_be_ambiguous() -> None:
    row = {"raffle": "weekly", "week_start": DAY, "version": 2}
    assert DRAW_LEDGER.token(row) == "raffle-weekly-2026-11-09-v2"  # commits made before the ledger still count
    one, other = ({**key, "version": 1} for key in ({"name": "a-b", "day": "c"}, {"name": "a", "day": "b-c"}))
    assert LEDGER.token(one) != LEDGER.token(other)
    assert len(LEDGER.token({"name": "x" * 500, "day": DAY, "version": 1})) <= 200
