"""What the product writes is its owner's only, and a run stopped at any moment still leaves its record:
real commands, real kills, a real full disk."""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from analytics import connect
from analytics.warehouse import demo

from .conftest import REPO, SEED

PLASTIC = REPO / "notebooks" / "account_managers" / "plastic_cards.ipynb"


def analytics(home: Path, *args: str, timeout: float = 300, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANALYTICS_HOME": str(home), "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks"), **environment}
    if "ANALYTICS_DB_URL" not in environment:  # the home's own embedded store
        env.pop("ANALYTICS_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "analytics.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)


def schedule(folder: Path, job: str, notebook: str, parameters: str = "{}", timeout_minutes: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job}.yaml").write_text(f'job: {job}\nnotebook: {notebook}\ncron: "0 3 * * *"\ntimezone: UTC\n'
                                        f"parameters: {parameters}\ntimeout_minutes: {timeout_minutes}\nalert: file\n",
                                        encoding="utf-8")
    return folder


def shared(root: Path) -> list[str]:
    """Every file or folder under ``root`` that its group or others may use."""
    found = []
    for folder, folders, files in os.walk(root):
        for path in [Path(folder)] + [Path(folder) / name for name in (*folders, *files)]:
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                found.append(f"{path.relative_to(root)} {stat.filemode(mode)}")
    return found


def test_reports_and_the_warehouse_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = analytics(home, "demo-data")
    assert made.returncode == 0, made.stderr
    ran = analytics(home, "run", str(PLASTIC), "-p", "partner_id", "3", "-p", "start", "2026-09-01",
                    "-p", "end", "2026-10-31")
    assert ran.returncode == 0, ran.stderr
    assert {Path(line).suffix for line in ran.stdout.splitlines()} == {".ipynb", ".xlsx", ".csv"}
    older = home / "reports" / "left_by_an_older_version"  # world-readable, as before this change
    older.mkdir(mode=0o755)
    (older / "runs.log").write_text("a line\n")
    os.chmod(older, 0o755)
    os.chmod(older / "runs.log", 0o644)
    schedules = schedule(tmp_path / "schedules", "events_check", "monitoring/events.ipynb", "{send_alerts: true}")
    job = analytics(home, "run-job", "events_check", ANALYTICS_SCHEDULES=str(schedules))
    assert job.returncode == 0, job.stderr
    written = {path.relative_to(home / "reports").parts[0] for path in (home / "reports").rglob("*") if path.is_file()}
    assert {"runs", "exports", "logs"} <= written
    assert list((home / "reports" / "runs" / "events_check").glob("*.html"))  # the run page
    assert shared(home / "reports") == [] and shared(home / "data") == [] and shared(home) == []


@contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[Path]:
    """A real file system of ``megabytes`` (tmpfs) mounted at ``folder``; a test that cannot mount it fails."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    assert mounted.returncode == 0, f"a small file system is needed to fill the disk: {mounted.stderr}"
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(disk: Path) -> None:
    """Take every free byte of ``disk``."""
    with open(disk / "filler", "ab") as filler:
        try:
            while True:
                filler.write(b"\0" * (1 << 20))
                filler.flush()
        except OSError as full:
            assert full.errno == errno.ENOSPC


def test_a_file_that_is_not_a_notebook_is_one_plain_line(tmp_path: Path) -> None:
    (tmp_path / "cut.ipynb").write_text('{"cells": [', encoding="utf-8")
    for given in ("/etc/hostname", str(tmp_path / "cut.ipynb")):
        done = analytics(tmp_path / "home", "run", given)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith(f"Error: {given} is not a notebook: give a .ipynb file of the reports folder")
        assert len(done.stderr.splitlines()) == 1


def test_a_run_on_a_full_disk_is_one_plain_line(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 16) as disk:
        assert analytics(disk, "demo-data").returncode == 0
        fill(disk)
        done = analytics(disk, "run", str(PLASTIC), "-p", "partner_id", "3")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "Error: The disk is full: free some space, then run it again."
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo warehouse of this module's own (its audit rows and job runs are asserted exactly)."""
    url = f"chdb://{tmp_path_factory.mktemp('durable') / 'warehouse'}"
    with connect(url) as db:
        demo.load(db, "small", SEED)
    return url


def audit_rows(url: str, action: str) -> list[dict]:
    with connect(url) as db:
        if "audit_log" not in db.tables():
            return []
        return db.query_arrow("SELECT * FROM audit_log WHERE action = %(a)s ORDER BY at, event_id", {"a": action}).to_pylist()


STOPPED_RECALCULATION = """
import datetime as dt, os, signal, sys
import analytics.reports.recalculation as report
from analytics import connect

how, first, last = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])

def writer(url, settings=None):
    db = connect(url, settings=settings)
    replace, calls = db.replace_partitions, []

    def stopping(table, partitions):
        calls.append(1)
        if len(calls) < 4:
            return replace(table, partitions)
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)  # killed as the fourth day begins to be written
        raise RuntimeError("stopped at day 4")
    db.replace_partitions = stopping
    return db

report.connect = writer
with connect(os.environ["ANALYTICS_DB_URL"]) as db:
    report.recalculate_days(db, first, last)
"""


@pytest.mark.parametrize("how", ["kill", "error"])
def test_each_day_a_stopped_recalculation_swapped_has_its_write_row(tmp_path: Path, warehouse: str, how: str) -> None:
    with connect(warehouse) as db:
        latest = db.scalar("SELECT max(event_date) FROM events")
    offset = 20 if how == "kill" else 30
    days = [latest - dt.timedelta(days=offset - index) for index in range(6)]
    before = {row["event_id"] for row in audit_rows(warehouse, "write")}
    child = subprocess.run([sys.executable, "-c", STOPPED_RECALCULATION, how, days[0].isoformat(), days[-1].isoformat()],
                           capture_output=True, text=True, timeout=180,
                           env={**os.environ, "ANALYTICS_HOME": str(tmp_path), "ANALYTICS_DB_URL": warehouse})
    assert child.returncode == (-signal.SIGKILL if how == "kill" else 1), child.stderr[-2000:]
    written = [row for row in audit_rows(warehouse, "write") if row["event_id"] not in before]
    assert sorted(json.loads(row["parameters"])["day"] for row in written) == [day.isoformat() for day in days[:3]]
    assert all(row["report"] == "recalculation:daily_partner_activity" and row["rows"] for row in written)
    with connect(warehouse) as db:
        computed = db.query_arrow("SELECT DISTINCT day FROM daily_partner_activity WHERE day >= %(a)s AND day <= %(b)s"
                                  " ORDER BY day", {"a": days[0], "b": days[-1]}).column("day").to_pylist()
    assert computed == days[:3]  # the three swapped days, each with its row; none after
