"""``analytics tiles --refresh``: run the tile jobs once now, so a fresh install's home page has figures.

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
from ..scheduler.jobs import run_job
from ..scheduler.schedules import Schedule
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
    due.sort(key=lambda schedule: schedule.notebook.parent.name == "admin")  # the activity log counts the others' runs
    # (and on a new store its table appears with their first audit rows), so it goes last
    with ThreadPoolExecutor(max_workers=max(1, settings.scheduler_parallel)) as pool:
        return list(pool.map(lambda schedule: _refresh(settings, schedule), due))


def _refresh(settings: Settings, schedule: Schedule) -> Refreshed:
    began = time.monotonic()
    run = run_job(settings, schedule)
    return Refreshed(schedule.job, run.status, time.monotonic() - began, run.error)
