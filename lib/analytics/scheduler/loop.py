"""The scheduler: a small loop over croniter's run times that decides, for each job and tick, run or record.

* **Claims.** Every tick a scheduler handles is first *claimed*: a file ``reports/runs/<job>/claims/<tick>``
  created with ``O_EXCL``. Only the process that created it handles the tick, so two schedulers
  started by mistake on the same schedules never both run a job; the newest claim is also where a
  restarted scheduler knows it stopped.
* **Downtime.** No catch-up: of the ticks missed while nothing ran, the latest runs once if it is
  within the job's grace window (default one period); the others are recorded as ``missed`` (at most
  ``MISSED_ROWS`` rows, the oldest one counting the rest). A job seen for the first time starts now.
* **Overlap.** A job whose previous run still holds its lock has the tick recorded as ``skipped``.
* **Parallel limit.** At most ``parallel`` jobs run at once; the rest wait their turn in the pool.
* **Timeouts and retries** are the job's own (:func:`.jobs.run_job`); the alert outbox is flushed
  every loop, so alerts held back by a Slack outage go out when it is back, after a restart too.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

from ..alerts import deliver, outbox_for, transport_for
from ..config import Settings
from ..exports.files import private_folder, process_alive
from ..retention import cleanup
from ..words import counted
from .jobs import STAMP, JobRun, exclusive, interrupted_alert, job_folder, record_tick, run_job, run_line
from .schedules import Schedule
from .timing import due_between, next_run, runs

log = logging.getLogger(__name__)
MISSED_ROWS = 100

Execute = Callable[[Settings, Schedule, dt.datetime], object]


def utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def period(schedule: Schedule, at: dt.datetime) -> dt.timedelta:
    """The gap between two runs after ``at``: the default grace window."""
    following = runs(schedule.cron, schedule.timezone, at)
    first = next(following)
    return next(following) - first


class Scheduler:
    def __init__(self, settings: Settings, schedules: list[Schedule], *, parallel: int | None = None,
                 execute: Execute = run_job, started: dt.datetime | None = None) -> None:
        self.settings, self.schedules, self.execute = settings, schedules, execute
        self.pool = ThreadPoolExecutor(max_workers=parallel or settings.scheduler_parallel, thread_name_prefix="job")
        self.started = started or dt.datetime.now(dt.UTC)
        self.running: dict[str, Future] = {}
        self._lock = threading.Lock()
        self._recovered = False

    # --- claims ------------------------------------------------------------------------------------------
    def _claims(self, job: str) -> Path:
        return job_folder(self.settings, job) / "claims"

    def last_claimed(self, job: str) -> dt.datetime | None:
        folder = self._claims(job)
        names = sorted(path.name for path in folder.glob("*T*Z")) if folder.exists() else []
        return dt.datetime.strptime(names[-1], STAMP).replace(tzinfo=dt.UTC) if names else None

    def claim(self, job: str, tick: dt.datetime) -> bool:
        """Take the tick, or learn another process has; the claim holds our pid until the tick is settled."""
        folder = self._claims(job)
        private_folder(folder)
        try:
            descriptor = os.open(folder / utc(tick).strftime(STAMP), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return False
        try:
            os.write(descriptor, f"{os.getpid()}\n".encode())
        finally:
            os.close(descriptor)
        return True

    def settle(self, job: str, tick: dt.datetime, outcome: str) -> None:
        with open(self._claims(job) / utc(tick).strftime(STAMP), "a", encoding="utf-8") as claim:
            claim.write(outcome + "\n")

    def recover_interrupted(self) -> list[str]:
        """A tick claimed by a scheduler that died during the run (its pid gone, the tick never settled) is
        recorded as failed and alerted, so a crash mid-run is not silent. Returns the jobs concerned."""
        found = []
        for schedule in self.schedules:
            last = self.last_claimed(schedule.job)
            if last is None:
                continue
            lines = (self._claims(schedule.job) / utc(last).strftime(STAMP)).read_text(encoding="utf-8").split()
            if len(lines) != 1 or not lines[0].isdigit() or int(lines[0]) == os.getpid() or process_alive(int(lines[0])):
                continue
            record_tick(self.settings, schedule, utc(last), "failed", "the scheduler stopped while this run was going")
            deliver(self.settings, [interrupted_alert(self.settings, schedule, utc(last))], schedule.alert)
            self.settle(schedule.job, last, "interrupted")
            found.append(schedule.job)
        return found

    # --- one pass ----------------------------------------------------------------------------------------------
    def tick(self, now: dt.datetime | None = None) -> list[tuple[str, dt.datetime, str]]:
        """Decide every due tick up to ``now``; returns (job, tick, action) for what this process handled."""
        now = now or dt.datetime.now(dt.UTC)
        if not self._recovered:
            self.recover_interrupted()
            self._recovered = True
        handled = []
        for schedule in self.schedules:
            since = self.last_claimed(schedule.job) or self.started
            due = due_between(schedule.cron, schedule.timezone, since, now)
            if not due:
                continue
            grace = dt.timedelta(minutes=schedule.grace_minutes) if schedule.grace_minutes is not None \
                else period(schedule, due[-1])
            latest = due[-1] if now - due[-1] <= grace else None
            missed = [tick for tick in due if tick != latest]
            dropped = max(0, len(missed) - MISSED_ROWS)
            for tick in missed[dropped:]:
                if self.claim(schedule.job, tick):
                    note = f" ({dropped} earlier ticks too)" if dropped and tick == missed[dropped] else ""
                    record_tick(self.settings, schedule, utc(tick), "missed", "the scheduler was not running" + note)
                    self.settle(schedule.job, tick, "missed")
                    handled.append((schedule.job, tick, "missed"))
            if latest is not None and self.claim(schedule.job, latest):
                handled.append((schedule.job, latest, self._start(schedule, latest)))
        return handled

    def _start(self, schedule: Schedule, tick: dt.datetime) -> str:
        with self._lock:
            previous = self.running.get(schedule.job)
            with exclusive(job_folder(self.settings, schedule.job)) as lock:  # held by a run in another process?
                free = lock is not None  # only a look: the run takes the lock itself
            if not free or (previous is not None and not previous.done()):
                record_tick(self.settings, schedule, utc(tick), "skipped", "the previous run was still going")
                self.settle(schedule.job, tick, "skipped")
                return "skipped"
            self.running[schedule.job] = self.pool.submit(self._guarded, schedule, utc(tick))
            return "started"

    def _guarded(self, schedule: Schedule, tick: dt.datetime) -> object:
        try:
            run = self.execute(self.settings, schedule, tick)
            if isinstance(run, JobRun):
                log.info("%s", run_line(self.settings, schedule, run))  # one line per run for whoever watches
            return run
        except Exception:  # noqa: BLE001 - one job's trouble never stops the scheduler
            log.exception("scheduler: job %s crashed", schedule.job)
            return None
        finally:
            self.settle(schedule.job, tick, "done")

    def flush_alerts(self) -> None:
        transport = transport_for(self.settings)
        if transport is not None:
            outbox_for(self.settings).flush(transport)

    def wait(self) -> None:
        """Until every started run has finished (tests, and a clean stop)."""
        for future in list(self.running.values()):
            future.result()

    def announce(self, now: dt.datetime | None = None) -> None:
        """At start, every job and its next run in the job's own time zone, so a person sees it is alive."""
        now = now or dt.datetime.now(dt.UTC)
        log.info("Scheduler: %s; Ctrl+C stops it.", counted(len(self.schedules), "job"))
        for schedule in self.schedules:
            upcoming = next_run(schedule.cron, schedule.timezone, now).astimezone(ZoneInfo(schedule.timezone))
            log.info("  %s: next run %s (%s)", schedule.job, f"{upcoming:%d.%m.%Y %H:%M}", schedule.timezone)

    def run_forever(self, poll_seconds: float = 5.0, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        self.announce()
        cleaned: dt.date | None = None
        while not stop.is_set():
            try:
                self.tick()
                self.flush_alerts()
                if cleaned != dt.date.today():  # retention once a day
                    cleanup(self.settings)
                    cleaned = dt.date.today()
            except Exception:  # noqa: BLE001 - a bad pass is logged; the next one tries again
                log.exception("scheduler: a pass failed")
            stop.wait(poll_seconds)
        self.pool.shutdown(wait=True)

