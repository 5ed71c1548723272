"""``analytics tiles --refresh``: run the tile jobs (and the monitoring jobs the on-call tile reads) once now, so
a fresh install's home page has figures.

Each job runs exactly as the scheduler runs it (:func:`analytics.scheduler.jobs.run_job`: recorded in
``job_runs``, kept under ``reports/runs/<job>/``, its tile stored), so the first tiles are no different
from the later ones. ``missing_only`` skips jobs whose tile is already stored: ``make run`` pays for the
runs once, not on every start.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..config import Settings
from ..errors import ConfigError
from ..scheduler.jobs import run_job
from ..scheduler.schedules import Schedule, load_schedules
from .store import read_tiles, tiles_folder
from .tiles import tile_schedules


@dataclass(frozen=True)
class Refreshed:
    job: str
    status: str  # ran, failed, timed_out, skipped
    seconds: float
    error: str = ""


def refresh_tiles(settings: Settings, *, missing_only: bool = False) -> list[Refreshed]:
    """Run every tile job (or those without a stored headline) now, as many at once as the scheduler would."""
    stored = read_tiles(tiles_folder(settings))
    due = [schedule for schedule in tile_schedules(settings)
           if not (missing_only and schedule.job in stored and stored[schedule.job].headline is not None)]
    due += monitoring_without_state(settings) if missing_only else monitoring_schedules(settings)
    due.sort(key=lambda schedule: schedule.notebook.parent.name == "admin")  # the activity log counts the others' runs
    # (and on a new store its table appears with their first audit rows), so it goes last
    with ThreadPoolExecutor(max_workers=max(1, settings.scheduler_parallel)) as pool:
        return list(pool.map(lambda schedule: _refresh(settings, schedule), due))


def monitoring_schedules(settings: Settings) -> list[Schedule]:
    """The scheduled monitoring jobs: the on-call tile reads their alert state."""
    try:
        schedules = load_schedules(settings.schedules, settings.notebooks, settings.users_file)
    except ConfigError:
        return []  # the tiles' own reading of the schedules logs what is wrong
    root = settings.notebooks.resolve()
    return [schedule for schedule in schedules if schedule.notebook.resolve().parent == root / "monitoring"]


def monitoring_without_state(settings: Settings) -> list[Schedule]:
    """Monitoring jobs that never ran: run once, so the on-call tile's first view says what they see (on the
    demo: no new data since its last day) instead of an empty "0 open alerts"."""
    folder = settings.reports_dir / "alerts" / "episodes"
    return [schedule for schedule in monitoring_schedules(settings) if not (folder / f"{schedule.job}.json").exists()]


def _refresh(settings: Settings, schedule: Schedule) -> Refreshed:
    began = time.monotonic()
    run = run_job(settings, schedule)
    return Refreshed(schedule.job, run.status, time.monotonic() - began, run.error)
