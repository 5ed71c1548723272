"""The scheduler's semantics, each pinned: catch-up, grace, overlap, parallel limit, DST, two processes,
failing / hanging / missing notebooks, retries, retention (the monitoring jobs end to end: test_monitoring_jobs.py)."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest

from analytics import load_settings
from analytics.alerts import Alert, FileTransport, outbox_for
from analytics.config import Settings
from analytics.retention import cleanup
from analytics.scheduler import Schedule
from analytics.scheduler.jobs import JobLog, JobRun, run_line
from analytics.scheduler.loop import Scheduler

UTC = dt.UTC
REPO = Path(__file__).resolve().parents[1]


def job(name: str = "hourly", cron: str = "0 * * * *", zone: str = "UTC", **changes: object) -> Schedule:
    values = {"job": name, "notebook": REPO / "notebooks" / "monitoring" / "events.ipynb", "cron": cron,
              "timezone": zone, "alert": "file"}
    return Schedule(**{**values, **changes})  # type: ignore[arg-type]


class Calls:
    """A stand-in for running a notebook: records (job, tick, start, end) and can be held open."""

    def __init__(self, hold: threading.Event | None = None, seconds: float = 0.0) -> None:
        self.done: list[tuple[str, dt.datetime, float, float]] = []
        self.hold, self.seconds = hold, seconds

    def __call__(self, settings: Settings, schedule: Schedule, tick: dt.datetime) -> None:
        began = time.monotonic()
        if self.hold is not None:
            self.hold.wait(30)
        time.sleep(self.seconds)
        self.done.append((schedule.job, tick, began, time.monotonic()))


def rows(settings: Settings) -> list[tuple[str, str]]:
    return [(row["job"], row["status"]) for row in JobLog(settings).runs()]


def at(hour: int, minute: int = 0, day: int = 16) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_no_catch_up_on_a_first_start_then_each_tick_runs_once(tmp_path: Path) -> None:
    settings, calls = load_settings(home=tmp_path), Calls()
    scheduler = Scheduler(settings, [job()], execute=calls, started=at(10, 30))
    assert scheduler.tick(at(10, 30)) == []  # 10:00 passed before we started: not run
    assert [action for *_, action in scheduler.tick(at(11, 0))] == ["started"]
    assert scheduler.tick(at(11, 1)) == []
    scheduler.wait()
    assert [(name, tick) for name, tick, *_ in calls.done] == [("hourly", dt.datetime(2026, 11, 16, 11))]


def test_after_downtime_the_latest_tick_within_grace_runs_once_and_older_ones_are_missed(tmp_path: Path) -> None:
    settings, calls = load_settings(home=tmp_path), Calls()
    first = Scheduler(settings, [job()], execute=calls, started=at(9, 30))
    first.tick(at(10, 0))
    first.wait()
    restarted = Scheduler(settings, [job()], execute=calls, started=at(15, 20))  # down from 10:00 to 15:20
    handled = restarted.tick(at(15, 20))
    restarted.wait()
    assert [(tick.hour, action) for _, tick, action in handled] == [(11, "missed"), (12, "missed"), (13, "missed"),
                                                                    (14, "missed"), (15, "started")]
    assert [tick.hour for _, tick, *_ in calls.done] == [10, 15]
    assert rows(settings).count(("hourly", "missed")) == 4
    late = Scheduler(settings, [job()], execute=calls, started=at(17, 10))  # down again from 15:20 to 18:05
    assert [(tick.hour, action) for _, tick, action in late.tick(at(18, 5))] == [(16, "missed"), (17, "missed"),
                                                                                 (18, "started")]
    beyond = Scheduler(settings, [job(grace_minutes=2)], execute=calls)
    assert [(tick.hour, action) for _, tick, action in beyond.tick(at(19, 5))] == [(19, "missed")]
    late.wait()


def test_a_job_never_overlaps_itself_and_the_skipped_tick_is_recorded(tmp_path: Path) -> None:
    settings, hold = load_settings(home=tmp_path), threading.Event()
    calls = Calls(hold)
    scheduler = Scheduler(settings, [job(cron="*/5 * * * *")], execute=calls, started=at(9, 59))
    scheduler.tick(at(10, 0))
    assert [action for *_, action in scheduler.tick(at(10, 5))] == ["skipped"]
    hold.set()
    scheduler.wait()
    assert len(calls.done) == 1 and ("hourly", "skipped") in rows(settings)


def test_at_most_the_parallel_limit_of_jobs_run_at_once(tmp_path: Path) -> None:
    settings, calls = load_settings(home=tmp_path), Calls(seconds=0.3)
    jobs = [job(name) for name in ("a", "b", "c")]
    scheduler = Scheduler(settings, jobs, execute=calls, parallel=2, started=at(9, 59))
    assert [action for *_, action in scheduler.tick(at(10, 0))] == ["started"] * 3
    scheduler.wait()
    spans = sorted((start, end) for *_, start, end in calls.done)
    overlapping = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert overlapping == 2 and spans[2][0] >= min(end for _, end in spans[:2])


@pytest.mark.parametrize("zone, day", [("Europe/Berlin", 29), ("Europe/Berlin", 25), ("America/New_York", 8),
                                       ("America/New_York", 1)])
def test_a_daily_0230_job_runs_exactly_once_when_the_clocks_change(tmp_path: Path, zone: str, day: int) -> None:
    month = 3 if day in (29, 8) else (10 if zone == "Europe/Berlin" else 11)
    settings, calls = load_settings(home=tmp_path), Calls()
    local_midnight = dt.datetime(2026, month, day, tzinfo=ZoneInfo(zone))
    start = local_midnight - dt.timedelta(days=1)
    scheduler = Scheduler(settings, [job(cron="30 2 * * *", zone=zone)], execute=calls, started=start)
    moment = start
    while moment < local_midnight + dt.timedelta(days=2):  # a loop every 10 minutes across the change
        moment += dt.timedelta(minutes=10)
        scheduler.tick(moment)
    scheduler.wait()
    local = [tick.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)) for _, tick, *_ in calls.done]
    change_day = local_midnight.date()
    assert [moment.date() for moment in local] == [change_day + dt.timedelta(days=n) for n in (-1, 0, 1)]


def _tick_in_a_process(home: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    settings, calls = load_settings(home=Path(home)), Calls()
    scheduler = Scheduler(settings, [job()], execute=calls, started=at(9, 30))
    barrier.wait()
    scheduler.tick(at(10, 0))
    scheduler.wait()
    results.put(len(calls.done))


def test_two_scheduler_processes_never_both_run_a_tick(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [context.Process(target=_tick_in_a_process, args=(str(tmp_path), barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert sorted(results.get(timeout=5) for _ in processes) == [0, 1]


CRASHING_SCHEDULER = """
import datetime as dt, sys, time
from pathlib import Path
from analytics import connect, load_settings
from analytics.scheduler import Schedule
from analytics.home.tiles import open_episodes
from analytics.scheduler.loop import Scheduler

job = Schedule("hourly", Path(sys.argv[2]), "0 * * * *", "UTC", alert="file")
start = dt.datetime(2026, 11, 16, 9, 30, tzinfo=dt.UTC)
scheduler = Scheduler(load_settings(home=Path(sys.argv[1])), [job], execute=lambda *_: time.sleep(120), started=start)
scheduler.tick(dt.datetime(2026, 11, 16, 10, 0, tzinfo=dt.UTC))
time.sleep(120)
"""


def test_a_scheduler_killed_during_a_run_leaves_a_failed_row_and_an_alert_not_silence(tmp_path: Path) -> None:
    crashing = subprocess.Popen([sys.executable, "-c", CRASHING_SCHEDULER, str(tmp_path), str(job().notebook)])
    claim = tmp_path / "reports" / "runs" / "hourly" / "claims" / "20261116T100000Z"
    deadline = time.monotonic() + 60
    while not (claim.exists() and claim.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    crashing.kill()
    crashing.wait(30)
    settings, calls = load_settings(home=tmp_path), Calls()
    restarted = Scheduler(settings, [job()], execute=calls, started=at(10, 5))
    assert restarted.tick(at(10, 5)) == []  # the crashed tick is not run again...
    assert rows(settings) == [("hourly", "failed")]  # ...but recorded and alerted
    [message] = (tmp_path / "reports" / "alerts" / "messages").glob("*.txt")
    assert "stopped while this run was going" in message.read_text(encoding="utf-8")
    assert restarted.tick(at(11, 0)) and restarted.tick(at(11, 1)) == []
    restarted.wait()
    assert rows(settings) == [("hourly", "failed")] and len(calls.done) == 1


def notebook(folder: Path, name: str, code: str) -> Path:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell('pause: "int[0, 600]" = 0  # Pause', metadata={"tags": ["parameters"]}),
                  nbformat.v4.new_code_cell(code)]
    path = folder / f"{name}.ipynb"
    nbformat.write(book, path)
    return path


def test_failing_hanging_and_missing_notebooks_each_give_one_row_and_one_alert(tmp_path: Path, embedded_url: str,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_DB_URL", embedded_url)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    settings = load_settings(home=tmp_path, db_url=embedded_url, notebooks=notebooks)
    jobs = [job("raises", notebook=notebook(notebooks, "raises", "raise ValueError('the partner table is empty')"),
                retries=1, retry_delay_minutes=0.01),
            job("hangs", notebook=notebook(notebooks, "hangs", "import time\ntime.sleep(600)"), timeout_minutes=0.05),
            job("missing", notebook=notebooks / "gone.ipynb"),
            job("fine", notebook=notebook(notebooks, "fine", "print('ok')"))]
    scheduler = Scheduler(settings, jobs, parallel=2, started=at(9, 59))
    scheduler.tick(at(10, 0))
    scheduler.wait()
    ours = {schedule.job for schedule in jobs}  # the shared demo store also holds other test files' job runs
    assert sorted(row for row in rows(settings) if row[0] in ours) == [
        ("fine", "ran"), ("hangs", "timed_out"), ("missing", "failed"), ("raises", "failed"), ("raises", "failed")]
    messages = sorted((tmp_path / "reports" / "alerts" / "messages").glob("*.txt"))
    texts = [path.read_text(encoding="utf-8") for path in messages]
    assert len(texts) == 3 and not any("fine" in text.splitlines()[0] for text in texts)
    [raised] = [text for text in texts if "raises" in text.splitlines()[0]]
    assert "the partner table is empty" in raised and "Failing cell:* 3" in raised  # after papermill's injected cell
    assert "Executed notebook:*" in raised and ".html" in raised
    by_job = {row["job"]: row for row in JobLog(settings).runs()}
    assert Path(by_job["fine"]["notebook"]).is_file() and Path(by_job["fine"]["html"]).is_file()
    assert Path(by_job["fine"]["notebook"]).parent == tmp_path / "reports" / "runs" / "fine"
    assert scheduler.tick(at(11, 0))  # the scheduler keeps going
    scheduler.wait()


def test_a_job_runs_row_the_table_refuses_holds_back_no_other(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, db_url=f"chdb://{tmp_path / 'store'}")
    tick = dt.datetime(2026, 11, 16, 8)
    refused = JobRun("r1", "cards", tick, tick, tick, "failed", error="no file r\udcffport.csv")  # not UTF-8
    assert not JobLog(settings).record(refused)
    assert JobLog(settings).record(JobRun("r2", "cards", tick, tick, tick, "ran"))
    assert rows(settings) == [("cards", "ran")]
    [parked] = JobLog(settings).parked()
    assert parked.key == "r1" and parked.rejected


def test_retention_removes_old_runs_and_job_runs_months_but_keeps_the_scheduler_state(tmp_path: Path) -> None:
    settings, calls = load_settings(home=tmp_path, keep_runs_days=30), Calls()
    old = Scheduler(settings, [job(grace_minutes=0)], execute=calls, started=dt.datetime(2026, 8, 1, 9, 30, tzinfo=UTC))
    old.tick(dt.datetime(2026, 8, 1, 12, 0, 30, tzinfo=UTC))  # two missed rows in August
    folder = tmp_path / "reports" / "runs" / "hourly"
    stale = folder / "events_20260801.ipynb"
    stale.write_text("{}")
    (folder / ".running").touch()
    tick = dt.datetime(2026, 8, 1, 8)
    JobLog(settings).record(JobRun("r1", "hourly", tick, tick, tick, "failed", error="r\udcff"))  # refused: parked
    pending = tmp_path / "reports" / "runs" / "job_runs.pending.jsonl"
    long_ago = time.time() - 90 * 86400
    for path in [stale, folder / ".running", *folder.glob("claims/*"), pending, pending.with_name(pending.name + ".lock")]:
        os.utime(path, (long_ago, long_ago))
    result = cleanup(settings, now=dt.datetime(2026, 11, 16, tzinfo=UTC).timestamp())
    assert result.partitions == ["202608"] and rows(settings) == []
    assert not stale.exists() and (folder / ".running").exists()
    assert [path.name for path in folder.glob("claims/*")] == ["20260801T120000Z"]
    assert [item.key for item in JobLog(settings).parked()] == ["r1"]  # a parked row is not an old file
    assert result.parked == [f"{pending}: 0 row(s) wait for the database, 1 refused by it (the reason is on each line)"]


def test_at_start_the_scheduler_says_each_job_and_its_next_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = Scheduler(load_settings(home=tmp_path), [job("events_hourly", "10 * * * *", "Europe/Moscow")],
                          execute=Calls())
    with caplog.at_level(logging.INFO, logger="analytics.scheduler.loop"):
        scheduler.announce(now=at(12))
    assert "Scheduler: 1 job; Ctrl+C stops it." in caplog.text
    assert "events_hourly: next run 16.11.2026 15:10 (Europe/Moscow)" in caplog.text  # 12:00 UTC is 15:00 there


def test_a_runs_line_counts_its_own_alerts_sent_and_waiting(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    started = dt.datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run = JobRun("r1", "events_hourly", started, started, started + dt.timedelta(seconds=12), "ran")
    box = outbox_for(settings)
    for name, owner in (("a1", "events_hourly"), ("a2", "events_hourly"), ("a3", "another_job")):
        box.put(Alert(name, "anomaly", f"news {name}", job=owner))
    folder = tmp_path / "reports" / "alerts" / "messages"
    assert run_line(settings, job("events_hourly"), run) == (
        f"events_hourly: ran in 12 s; 2 alerts: 0 sent to files in {folder}, 2 waiting "
        "(sent at the next pass once the channel answers)")  # another job's alert is not this run's
    box.flush(FileTransport(folder))
    assert run_line(settings, job("events_hourly"), run) == f"events_hourly: ran in 12 s; 2 alerts sent to files in {folder}"
