"""The outage queue of the audit trail and job_runs: only what failed waits, a refused row blocks nothing, retries go
in order with one copy each, and a kill leaves the file wholly old or wholly new."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from analytics.errors import ServerUnreachableError
from analytics.parked import OutageQueue, Parked

REPO = Path(__file__).resolve().parents[1]
DOWN = ServerUnreachableError([("127.0.0.1", 1)], "connection refused")


class Table:
    """A stand-in for the database: takes rows once per key (the insert token), refuses what ``refuses`` says,
    and is unreachable while ``down``."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.down = False
        self.tries: list[str] = []

    def write(self, row: dict[str, Any]) -> None:
        self.tries.append(row["id"])
        if self.down:
            raise DOWN
        if row.get("bad"):
            raise ValueError(f"can't convert {row['bad']!r} to UInt64")
        self.rows.setdefault(row["id"], row)


def queue(path: Path, table: Table) -> OutageQueue[dict[str, Any]]:
    return OutageQueue(path, write=table.write, key=lambda row: row["id"], encode=dict, decode=dict,
                       describe=lambda row: f"test: row {row['id']}", label="test")


def keys(parked: list[Parked]) -> list[tuple[str, bool]]:
    return [(item.key, item.rejected) for item in parked]


def test_a_refused_row_is_parked_with_its_reason_and_the_next_good_row_goes_in(tmp_path: Path) -> None:
    table = Table()
    rows = queue(tmp_path / "pending.jsonl", table)
    assert not rows.record({"id": "a", "bad": -1})
    assert rows.record({"id": "b"})  # not held back by the refused one
    assert list(table.rows) == ["b"] and table.tries == ["a", "b"]  # a refused row is not retried with every row
    [parked] = rows.parked()
    assert (parked.key, parked.rejected, parked.reason) == ("a", True, "can't convert -1 to UInt64")
    assert stat.S_IMODE((tmp_path / "pending.jsonl").stat().st_mode) == 0o600


def test_an_outage_parks_rows_that_go_in_order_after_the_next_good_one_once_each(tmp_path: Path) -> None:
    table = Table()
    rows = queue(tmp_path / "pending.jsonl", table)
    table.down = True
    assert not rows.record({"id": "1"})
    assert not rows.record({"id": "2", "bad": -5})  # refused once the database is back; unknown while it is down
    assert not rows.record({"id": "3"})
    assert keys(rows.parked()) == [("1", False), ("2", False), ("3", False)]
    table.down = False
    assert rows.record({"id": "4"})
    assert list(table.rows) == ["4", "1", "3"]  # the new row first, then the parked ones in order, past the refused
    assert keys(rows.parked()) == [("2", True)]
    assert rows.flush().rejected == 1 and rows.flush().written == 0  # a flush, twice: no copy, the refused one stays
    assert list(table.rows) == ["4", "1", "3"]


def test_a_retry_stops_at_an_outage_and_the_rest_wait_untried(tmp_path: Path) -> None:
    table = Table()
    rows = queue(tmp_path / "pending.jsonl", table)
    table.down = True
    for key in "123":
        rows.record({"id": key})
    table.tries.clear()
    report = rows.flush()
    assert (report.written, report.waiting, report.rejected) == (0, 3, 0) and table.tries == ["1"]
    [first, *_] = rows.parked()
    assert first.attempts == 2 and "cannot be reached" in first.reason


def test_a_crash_between_the_database_and_the_file_makes_no_second_copy(tmp_path: Path) -> None:
    table = Table()
    rows = queue(tmp_path / "pending.jsonl", table)
    table.down = True
    rows.record({"id": "1"})
    rows.record({"id": "2"})
    table.down = False

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # the process stops after the database took the rows, before the file forgot them
    rows._rewrite = crash  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        rows.flush()
    del rows._rewrite
    assert keys(rows.parked()) == [("1", False), ("2", False)]
    assert rows.flush().written == 2 and rows.parked() == []
    assert list(table.rows) == ["1", "2"] and table.tries == ["1", "2", "1", "2", "1", "2"]


def test_a_line_of_an_older_version_and_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "pending.jsonl"
    path.write_text(json.dumps({"id": "old"}) + "\n" + '{"key": "torn", "ent')  # a kill mid-append
    table = Table()
    rows = queue(path, table)
    assert keys(rows.parked()) == [("old", False)]
    table.down = True
    rows.record({"id": "new"})  # the torn tail is cut before the new line goes in
    assert path.read_text().count("\n") == 2 and keys(rows.parked()) == [("old", False), ("new", False)]
    table.down = False
    assert rows.flush().written == 2 and not path.exists()


def test_neither_the_database_nor_the_disk_is_one_plain_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    table = Table()
    table.down = True
    try:
        assert not queue(folder / "pending.jsonl", table).record({"id": "x"})
    finally:
        folder.chmod(0o700)
    err = capfd.readouterr().err
    if os.geteuid() != 0:  # root writes anyway
        assert err.startswith("test: row x could not be recorded: the database did not take it (The database server")
        assert "could not be written (Permission denied)" in err and "Traceback" not in err


CHURN = """
import os, sys
from pathlib import Path
from analytics.errors import ServerUnreachableError
from analytics.parked import OutageQueue

def down(row):
    raise ServerUnreachableError([("127.0.0.1", 1)])

def refuse_fifths(row):
    if row["n"] % 5 == 0:
        raise ValueError("refused")

rows = OutageQueue(Path(sys.argv[1]), write=down, key=lambda row: str(row["n"]), encode=dict, decode=dict,
                   describe=str, label="churn")
retry = OutageQueue(Path(sys.argv[1]), write=refuse_fifths, key=lambda row: str(row["n"]), encode=dict, decode=dict,
                    describe=str, label="churn")
print("ready", flush=True)
for n in range(10 ** 6):
    rows.record({"n": n, "pad": "x" * 9000})  # three pages a line: a kill can land inside one
    if n % 7 == 6:
        retry.flush()  # a rewrite: fifths stay (refused), the rest go
"""


@pytest.mark.parametrize("after", [0.7, 1.3, 2.1])
def test_a_queue_killed_mid_write_is_wholly_old_or_wholly_new(tmp_path: Path, after: float) -> None:
    path = tmp_path / "pending.jsonl"
    child = subprocess.Popen([sys.executable, "-c", CHURN, str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env={**os.environ, "PYTHONPATH": str(REPO / "lib")})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(after)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    parked = queue(path, Table()).parked()
    assert parked and all(item.entry["pad"] == "x" * 9000 for item in parked)  # whole rows only
    seen = [(int(item.key), item.rejected) for item in parked]
    last = seen[-1][0]

    def state(flushed: int) -> list[tuple[int, bool]]:
        """What the file holds once rows up to ``last`` are parked and the latest finished flush was at ``flushed``."""
        return [(n, True) for n in range(0, flushed + 1, 5)] + [(n, False) for n in range(flushed + 1, last + 1)]
    # a flush after the last row parked (it left only refused rows, the newest below the flush) counts too
    assert any(seen == state(flushed) for flushed in [-1, *range(6, last + 8, 7)]), seen
