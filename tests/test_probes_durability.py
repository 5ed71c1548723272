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
from unittest import mock

import nbformat
import pytest

from analytics import connect, load_settings
from analytics.audit import run_started
from analytics.cli import main, recover_interrupted
from analytics.exports.files import process_alive
from analytics.scheduler import Schedule
from analytics.scheduler.jobs import JobLog, exclusive, job_folder, run_job
from analytics.warehouse import demo

from .conftest import REPO, SEED, wait_until

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
from analytics import connect, load_settings
from analytics.pipeline import commit
from analytics.testing.runs import run_context

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

url = os.environ["ANALYTICS_DB_URL"]
with connect(url) as db, writer(url) as lent:
    ctx = run_context(db, load_settings(), writer=lent)
    commit(report.recalculate_days(ctx, first, last), ctx)
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


def notebook(folder: Path, name: str, code: str) -> Path:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell('pause: "int[0, 600]" = 0  # Pause', metadata={"tags": ["parameters"]}),
                  nbformat.v4.new_code_cell(code)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(book, folder / f"{name}.ipynb")
    return folder / f"{name}.ipynb"


def kernel_of(flag: Path) -> int:
    """The pid a notebook wrote into ``flag`` once it is where the test wants it (waited for, not slept on)."""
    return int(wait_until(lambda: flag.is_file() and flag.read_text().strip(), 120, f"the notebook never wrote {flag}"))


HOLDS_ON = """
import os, pathlib, time
pathlib.Path(os.environ["DURABILITY_FLAG"]).write_text(str(os.getpid()))
while pathlib.Path(os.environ["DURABILITY_HOLD"]).exists():
    time.sleep(0.2)
"""


def test_a_killed_run_job_is_a_failed_row_at_the_next_start_and_leaves_no_orphan(tmp_path: Path, warehouse: str) -> None:
    home, flag, hold = tmp_path / "home", tmp_path / "flag", tmp_path / "hold"
    notebook(tmp_path / "notebooks" / "jobs", "holds_on", HOLDS_ON)
    environment = {"ANALYTICS_DB_URL": warehouse, "ANALYTICS_NOTEBOOKS": str(tmp_path / "notebooks"),
                   "ANALYTICS_SCHEDULES": str(schedule(tmp_path / "schedules", "holds_on", "jobs/holds_on.ipynb")),
                   "ANALYTICS_HOME": str(home), "DURABILITY_FLAG": str(flag), "DURABILITY_HOLD": str(hold)}
    hold.touch()
    first = subprocess.Popen([sys.executable, "-m", "analytics.cli", "run-job", "holds_on"], env={**os.environ, **environment},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernel = kernel_of(flag)
    first.kill()  # SIGKILL to run-job alone, as `kill -9 <pid>` does
    first.wait(30)
    wait_until(lambda: not process_alive(kernel), 30, "the killed run-job's notebook went on as an orphan")
    hold.unlink()
    settings = load_settings(home=home, db_url=warehouse)
    second = subprocess.run([sys.executable, "-m", "analytics.cli", "run-job", "holds_on"], env={**os.environ, **environment},
                            capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    runs = [row for row in JobLog(settings).runs("holds_on")]
    assert [(row["status"], row["error"]) for row in runs] == [("failed", "interrupted: the process stopped"), ("ran", "")]
    [alert] = (home / "reports" / "alerts" / "messages").glob("*.txt")
    assert "interrupted: the process stopped" in alert.read_text(encoding="utf-8")
    assert not list((home / "reports" / "audit" / "running").iterdir())


def test_the_lock_of_a_job_lasts_while_its_notebook_runs(tmp_path: Path, warehouse: str) -> None:
    """Held by the notebook's process too: a run-job that starts while a run's child still goes is skipped."""
    flag, hold = tmp_path / "flag", tmp_path / "hold"
    notebook(tmp_path / "notebooks" / "jobs", "holds_on", HOLDS_ON)
    settings = load_settings(home=tmp_path / "home", db_url=warehouse, notebooks=tmp_path / "notebooks")
    job = Schedule(job="holds_on", notebook=tmp_path / "notebooks" / "jobs" / "holds_on.ipynb", cron="0 3 * * *",
                   timezone="UTC", alert="file")
    hold.touch()
    environment = {**os.environ, "DURABILITY_FLAG": str(flag), "DURABILITY_HOLD": str(hold)}
    with mock.patch.dict(os.environ, environment):
        with exclusive(job_folder(settings, "holds_on")) as lock:
            assert lock is not None
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], pass_fds=(lock.fileno(),))
        try:
            with exclusive(job_folder(settings, "holds_on")) as taken:  # our copy is closed, the child's holds
                assert taken is None
            assert run_job(settings, job).status == "skipped"
        finally:
            child.kill()
            child.wait(30)
        with exclusive(job_folder(settings, "holds_on")) as free:
            assert free is not None


STALLED_EXPORT = """
import os, pathlib, time
from analytics import connect, load_settings
from analytics.exports.files import atomic_file
from analytics.pipeline import execute
from analytics.reports import ReportQuery
from analytics.testing.runs import run_context

settings = load_settings()

def stall(rows):
    with atomic_file(settings.reports_dir / "exports" / "half_written.csv") as handle:
        handle.write(b"4276 0000 0000 0000\\n" * 1000)
        pathlib.Path(os.environ["DURABILITY_FLAG"]).write_text(str(os.getpid()))
        time.sleep(600)

with connect(settings.database_url) as db:
    execute(ReportQuery(name="stalled_export", title="Cards", sql="SELECT card_number FROM cards"),
            run_context(db, settings, progress=stall, user="anna"))
"""


def temporaries(root: Path) -> list[str]:
    return sorted(path.name for path in root.rglob(".*") if path.is_file() and path.name.startswith((".tmp-", ".spool-")))


def test_a_run_killed_mid_export_is_a_failed_audit_row_and_leaves_no_temporary(tmp_path: Path, warehouse: str) -> None:
    home, flag = tmp_path / "home", tmp_path / "flag"
    stalled = notebook(tmp_path / "notebooks" / "analysts", "stalled_export", STALLED_EXPORT)
    env = {**os.environ, "ANALYTICS_HOME": str(home), "ANALYTICS_DB_URL": warehouse, "DURABILITY_FLAG": str(flag)}
    run = subprocess.Popen([sys.executable, "-m", "analytics.cli", "run", str(stalled)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernel = kernel_of(flag)
    assert len(temporaries(home / "reports")) == 2  # the spool and the half-written CSV, both the kernel's
    someone_else = home / "reports" / "exports" / f".tmp-{os.getpid()}-{'0' * 16}-still_writing.csv"
    someone_else.write_text("a live process writes this one")
    [marker] = (home / "reports" / "audit" / "running").glob("report-*.json")
    run_id = json.loads(marker.read_text())["run_id"]
    run.kill()
    run.wait(30)
    wait_until(lambda: not process_alive(kernel), 30, "the killed run's kernel went on as an orphan")
    failed_before = len(audit_rows(warehouse, "run_failed"))
    recover_interrupted(load_settings(home=home, db_url=warehouse))
    assert temporaries(home / "reports") == [someone_else.name]  # a live writer's temporary stays
    [failed] = [row for row in audit_rows(warehouse, "run_failed") if row["run_id"] == run_id]
    assert failed["report"] == "stalled_export" and failed["user"] == "anna"
    assert json.loads(failed["parameters"])["error"] == "interrupted: the process stopped"
    recover_interrupted(load_settings(home=home, db_url=warehouse))  # once: a second start finds nothing more
    assert len(audit_rows(warehouse, "run_failed")) == failed_before + 1
    assert not list((home / "reports" / "audit" / "running").iterdir())


def test_the_app_start_recovers_before_it_becomes_the_app(tmp_path: Path, warehouse: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    settings = load_settings(home=home, db_url=warehouse)
    marker = run_started(settings, "report", "deadbeef", report="plastic_cards", user="anna", parameters={})
    assert marker is not None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    details = json.loads(marker.read_text())
    marker.write_text(json.dumps({**details, "pid": int(dead.stdout)}))  # as if the app's kernel had been killed
    leftover = home / "reports" / "exports" / "anna" / f".tmp-{dead.stdout.strip()}-{'0' * 16}-cards.xlsx"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"PK" * 1000)
    became: list[list[str]] = []

    def execve(path: str, command: list[str], environment: dict[str, str]) -> None:
        became.append(command)
        raise SystemExit(0)

    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.setenv("ANALYTICS_HOME", str(home))
    with pytest.raises(SystemExit):
        main(["serve", "--url", warehouse, "--port", "1"])
    assert became and "analytics.web.app" in became[0]
    assert not leftover.exists() and not marker.exists()
    assert [row["run_id"] for row in audit_rows(warehouse, "run_failed")].count("deadbeef") == 1


FULL_DISK_RUN = """
import errno, sys
from analytics import connect, load_settings
from analytics.audit import AuditEvent, AuditLog
from analytics.exports.files import private_folder
from analytics.pipeline import execute
from analytics.reports import ReportQuery
from analytics.testing.runs import run_context

disk, warehouse, run_id, audit_elsewhere = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "yes"
settings = load_settings(home=disk, db_url=warehouse if audit_elsewhere else "", query_timeout_seconds=5)
private_folder(settings.reports_dir / "exports" / "anna")
with open(f"{disk}/filler", "ab") as filler:
    try:
        while True:
            filler.write(bytes(1 << 20))
            filler.flush()
    except OSError:
        pass
with connect(warehouse) as db:
    try:
        execute(ReportQuery(name="cards_on_a_full_disk", title="Cards", sql="SELECT card_number FROM cards"),
                run_context(db, settings, user="anna", run_id=run_id))
    except OSError as full:
        print("run failed:", errno.errorcode[full.errno])
print("recorded:", AuditLog(settings).record(AuditEvent("cleanup", user="anna")))
"""


def full_disk_run(disk: Path, warehouse: str, run_id: str, audit_elsewhere: bool) -> subprocess.CompletedProcess[str]:
    """A run on a full disk, in a process of its own (the embedded store's engine lives in the process)."""
    return subprocess.run([sys.executable, "-c", FULL_DISK_RUN, str(disk), warehouse, run_id,
                           "yes" if audit_elsewhere else "no"], capture_output=True, text=True, timeout=300, check=False)


def test_a_run_failing_on_a_full_disk_is_audited_in_the_database(tmp_path: Path, warehouse: str) -> None:
    with small_disk(tmp_path / "disk", 4) as disk:
        done = full_disk_run(disk, warehouse, "fulldisk1", audit_elsewhere=True)  # the database still takes rows
        assert temporaries(disk / "reports") == []  # what the failed run began is gone
    assert done.stdout.splitlines() == ["run failed: ENOSPC", "recorded: True"], done.stderr
    [failed] = [row for row in audit_rows(warehouse, "run_failed") if row["run_id"] == "fulldisk1"]
    assert "No space left on device" in json.loads(failed["parameters"])["error"]


def test_an_audit_row_neither_the_database_nor_the_disk_takes_is_one_plain_line(tmp_path: Path, warehouse: str) -> None:
    with small_disk(tmp_path / "disk", 4) as disk:  # the embedded store, the pending file, the exports: one full disk
        done = full_disk_run(disk, warehouse, "fulldisk2", audit_elsewhere=False)
    assert done.stdout.splitlines() == ["run failed: ENOSPC", "recorded: False"], done.stderr  # the audit never raises
    lines = [line for line in done.stderr.splitlines() if line.startswith("audit: ") and "could not be recorded" in line]
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert lines[0].startswith("audit: run_failed of cards_on_a_full_disk by anna")
    assert "run fulldisk2" in lines[0] and "(No space left on device)" in lines[0]
