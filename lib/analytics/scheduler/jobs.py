"""One run of a scheduled job: execute its notebook, keep it (and its HTML) under reports/runs/<job>/,
record the tick in ``job_runs``, and alert when it failed.

``job_runs`` rows go through the writer account with the run id as insert token (a retried write
is one row); a row the database does not take waits in ``reports/runs/job_runs.pending.jsonl``, the
outage queue audit events use too (:mod:`analytics.parked`): it never holds back the next row.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from ..alerts import Alert, alert_id, deliver, destination, outbox_for
from ..audit import INTERRUPTED, interrupted_runs, run_ended, run_started
from ..config import Settings
from ..context import Job
from ..db import Database, TableSpec, connect
from ..delivery.links import run_page_url
from ..delivery.scheduled import announce_run, publish_run
from ..exports.files import open_private
from ..home.store import remember_run
from ..parked import OutageQueue, Parked, Retried
from ..pipeline import new_run_id
from ..runner import NotebookFailed, run_notebook
from ..words import counted
from .schedules import Schedule

log = logging.getLogger(__name__)

STATUSES = ("ran", "failed", "timed_out", "skipped", "missed")
JOB_RUNS = TableSpec("job_runs", {
    "run_id": "String", "job": "String", "scheduled_for": "DateTime", "started_at": "DateTime",
    "finished_at": "DateTime", "status": "String", "attempt": "UInt8", "error": "String", "failing_cell": "Int32",
    "notebook": "String", "html": "String",
}, order_by=("job", "scheduled_for", "run_id"), partition_by="toYYYYMM(scheduled_for)",
    description="Every tick of every scheduled job: ran, failed, timed out, skipped as overlapping, missed")
TIMED_OUT = {"Timeout", "CellTimeoutError"}
STAMP = "%Y%m%dT%H%M%SZ"  # a claim's name: its tick in UTC


@dataclass(frozen=True)
class JobRun:
    run_id: str
    job: str
    scheduled_for: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime
    status: str
    attempt: int = 0
    error: str = ""
    failing_cell: int = -1
    notebook: str = ""
    html: str = ""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def job_folder(settings: Settings, job: str) -> Path:
    return settings.reports_dir / "runs" / job


class JobLog:
    """Writes job_runs rows; a row the database does not take is parked (:mod:`analytics.parked`, as audit events
    are): only that row waits, the next one goes in regardless, and then the parked ones, in order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pending = settings.reports_dir / "runs" / "job_runs.pending.jsonl"
        self._db: Database | None = None
        self._queue = OutageQueue(self.pending, write=self._write, key=lambda run: run.run_id, encode=_run_json,
                                  decode=_run_from_json, describe=_described, label="job_runs")

    def record(self, run: JobRun) -> bool:
        """True when the row reached the database, False when it waits; never raises (the scheduler goes on)."""
        try:
            return self._queue.record(run)
        finally:
            self._close()

    def flush(self) -> Retried:
        """Write the parked rows, those the database refused before included."""
        try:
            return self._queue.flush()
        finally:
            self._close()

    def parked(self) -> list[Parked]:
        """The rows waiting in the pending file, oldest first, each with why it waits."""
        return self._queue.parked()

    def _write(self, run: JobRun) -> None:
        """One row, its run id the insert token: a retried write is one row."""
        row = JOB_RUNS.arrow({name: [value] for name, value in asdict(run).items()})
        try:
            if self._db is None:
                self._db = connect(self.settings.writer_url, settings=self.settings)
                if JOB_RUNS.name not in self._db.tables():
                    self._db.create_table(JOB_RUNS)
            self._db.insert(JOB_RUNS.name, row, token=f"job-run-{run.run_id}")
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None

    def runs(self, job: str | None = None) -> list[dict]:
        with connect(self.settings.database_url, settings=self.settings, read_only=True) as db:
            if JOB_RUNS.name not in db.tables():
                return []
            return db.query_arrow("SELECT * FROM job_runs WHERE %(job)s = '' OR job = %(job)s "
                                  "ORDER BY scheduled_for, started_at", {"job": job or ""}).to_pylist()


def _run_json(run: JobRun) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, dt.datetime) else value for name, value in asdict(run).items()}


def _run_from_json(data: Mapping[str, Any]) -> JobRun:
    values = dict(data)
    for name in ("scheduled_for", "started_at", "finished_at"):
        values[name] = dt.datetime.fromisoformat(values[name])
    return JobRun(**values)


def _described(run: JobRun) -> str:
    return f"job_runs: {run.job} {run.status} (run {run.run_id}, {run.scheduled_for:%Y-%m-%d %H:%M} UTC)"


LOCK_PATIENCE = 2.0  # seconds a busy lock is tried again before the run counts as overlapping


@contextmanager
def exclusive(job_dir: Path, patience: float = LOCK_PATIENCE) -> Iterator[IO[str] | None]:
    """Hold the job's run lock if free (the locked file), else yield None: a job never overlaps itself, across
    processes. The notebook's child process inherits the lock, so it lasts as long as the run's processes do.

    A busy lock is tried again for ``patience`` seconds: another job's kernel, forked in the instant this lock
    was held, keeps a copy until its exec (milliseconds, longer on a loaded machine). Without the wait, a
    parallel scheduler skipped a job "as overlapping" that nothing was running."""
    deadline = time.monotonic() + patience
    with open_private(job_dir / ".running") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield None
                    return
                time.sleep(0.05)
        yield lock


def claim_file(settings: Settings, job: str, tick: dt.datetime) -> Path:
    """Where the scheduler claims a tick (``tick`` in UTC)."""
    return job_folder(settings, job) / "claims" / tick.strftime(STAMP)


def settle_claim(settings: Settings, job: str, tick: dt.datetime, outcome: str) -> None:
    """Settle the scheduler's claim of ``tick`` with ``outcome`` if it is still open (a run-job has none)."""
    claim = claim_file(settings, job, tick)
    if claim.is_file() and len(claim.read_text(encoding="utf-8").split()) == 1:
        with claim.open("a", encoding="utf-8") as open_claim:
            open_claim.write(outcome + "\n")


def record_tick(settings: Settings, schedule: Schedule, scheduled_for: dt.datetime, status: str, error: str = "") -> None:
    """A tick that did not run (skipped as overlapping, or missed during downtime)."""
    now = _utc_now()
    JobLog(settings).record(JobRun(new_run_id(), schedule.job, scheduled_for, now, now, status, error=error))


def run_job(settings: Settings, schedule: Schedule, scheduled_for: dt.datetime | None = None,
            sleep: Callable[[float], None] = time.sleep) -> JobRun:
    """Run ``schedule``'s notebook now (for the tick ``scheduled_for``), with its retries; record and alert."""
    scheduled_for = scheduled_for or _utc_now()
    folder = job_folder(settings, schedule.job)
    with exclusive(folder) as lock:
        if lock is None:
            record_tick(settings, schedule, scheduled_for, "skipped", "the previous run was still going")
            return JobRun("", schedule.job, scheduled_for, _utc_now(), _utc_now(), "skipped")
        for attempt in range(schedule.retries + 1):
            run_id = new_run_id()
            marker = run_started(settings, "job", run_id, job=schedule.job, scheduled_for=scheduled_for, attempt=attempt,
                                 alert=schedule.alert, notebook=schedule.notebook.name)  # a kill -9 is still recorded
            run = _attempt(settings, schedule, scheduled_for, folder, attempt, run_id, lock.fileno())
            JobLog(settings).record(run)
            run_ended(marker)
            if run.status == "ran" or attempt == schedule.retries:
                break
            sleep(schedule.retry_delay_minutes * 60)
    remember_run(settings, schedule, run)  # the home page's tile: this run's headline, or that it failed
    if run.status != "ran":
        deliver(settings, [failure_alert(settings, schedule, run)], schedule.alert)
    elif run.html:
        announce_run(settings, schedule, run.run_id, scheduled_for)  # the result to its Slack channel, if named
    return run


def _attempt(settings: Settings, schedule: Schedule, scheduled_for: dt.datetime, folder: Path, attempt: int,
             run_id: str, lock: int) -> JobRun:
    started = _utc_now()
    job = Job(schedule.job, run_link(settings, schedule.job, run_id), schedule.alert)
    try:
        done = run_notebook(schedule.notebook, schedule.parameters, settings=settings,
                            timeout=schedule.timeout_minutes * 60, user=f"scheduler:{schedule.job}", folder=folder,
                            run_id=run_id, job=job, keep_fds=(lock,))
        executed, status, error, cell = done.executed, "ran", "", -1
    except NotebookFailed as failed:
        done, executed, cell = None, failed.executed, failed.cell_index if failed.cell_index is not None else -1
        status = "timed_out" if failed.ename in TIMED_OUT else "failed"
        error = " ".join(str(failed).split())[:500]
    html = publish_run(settings, schedule, run_id, executed, status, done) if executed else None  # page and manifest
    return JobRun(run_id, schedule.job, scheduled_for, started, _utc_now(), status, attempt, error, cell,
                  str(executed or ""), str(html or ""))


def run_line(settings: Settings, schedule: Schedule, run: JobRun) -> str:
    """One line for a person watching ``run-job`` or the scheduler: the job, its outcome and time, the alerts it
    queued and where they went (or that they wait for Slack), and the run's page."""
    seconds = (run.finished_at - run.started_at).total_seconds()
    outcome = f"{run.job}: {run.status.replace('_', ' ')} in {seconds:,.0f} s" + (f" ({run.error})" if run.error else "")
    waiting, sent = outbox_for(settings).of_job(run.job, run.started_at.isoformat())
    where = destination(settings, schedule.alert)
    if not waiting and not sent:
        alerts = "no alert"
    elif not waiting:
        alerts = f"{counted(len(sent), 'alert')} sent to {where}"
    else:
        alerts = (f"{counted(len(sent) + len(waiting), 'alert')}: {len(sent):,} sent to {where}, {len(waiting):,} "
                  "waiting (sent at the next pass once the channel answers)")
    page = f"; page: {run_link(settings, run.job, run.run_id)}" if run.html else ""
    return f"{outcome}; {alerts}{page}"


def run_link(settings: Settings, job: str, run_id: str) -> str:
    """Where a person opens the run: its page in the app (the public URL, else where ``serve`` runs), never a
    file on the server."""
    return run_page_url(settings, job, run_id)


def failure_alert(settings: Settings, schedule: Schedule, run: JobRun) -> Alert:
    return _failure_alert(settings, schedule.job, schedule.notebook.name, run)


def _failure_alert(settings: Settings, job: str, notebook: str, run: JobRun) -> Alert:
    what = "took too long and was stopped" if run.status == "timed_out" else "failed"
    lines = [f"*Job:* {job} ({notebook})", f"*When:* {run.scheduled_for:%d.%m.%Y %H:%M} UTC",
             f"*Error:* {run.error or 'unknown'}"]
    if run.failing_cell >= 0:
        lines.append(f"*Failing cell:* {run.failing_cell}")
    if run.notebook:
        lines.append(f"*Executed notebook:* {run.notebook}")
    link = run_link(settings, job, run.run_id) if run.html else run.notebook
    return Alert(alert_id("job_failed", job, run.scheduled_for.isoformat()), "job_failed",
                 f"Scheduled job {job} {what}", tuple(lines), link, job=job)


def recover_interrupted_jobs(settings: Settings) -> list[JobRun]:
    """Runs whose process was killed before their row was written (``run-job`` or the scheduler killed with
    -9): each becomes a ``failed`` row, "interrupted: the process stopped", with its alert; the scheduler's
    claim of the tick is settled, so it is not recorded twice."""
    recovered = []
    for marker, details in interrupted_runs(settings, "job"):
        tick = dt.datetime.fromisoformat(details["scheduled_for"])
        run = JobRun(details["run_id"], details["job"], tick, dt.datetime.fromisoformat(details["started_at"]),
                     _utc_now(), "failed", int(details.get("attempt", 0)), error=INTERRUPTED)
        JobLog(settings).record(run)
        try:
            deliver(settings, [_failure_alert(settings, run.job, details.get("notebook", ""), run)],
                    details.get("alert", "slack"))
        except Exception as trouble:  # noqa: BLE001 - the row is written; the alert's trouble is only logged
            log.warning("job %s: the alert about run %s interrupted was not sent (%s)", run.job, run.run_id, trouble)
        settle_claim(settings, run.job, tick, "interrupted")
        run_ended(marker)
        recovered.append(run)
    return recovered



def interrupted_alert(settings: Settings, schedule: Schedule, tick: dt.datetime) -> Alert:
    """The scheduler died while this job ran: nobody knows how far it got."""
    now = _utc_now()
    run = JobRun("", schedule.job, tick, now, now, "failed",
                 error="the scheduler stopped while this run was going; check the job's output and run it again "
                       f"with `analytics run-job {schedule.job}` if needed")
    return failure_alert(settings, schedule, run)
