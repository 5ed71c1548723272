"""Scheduled notebooks: what runs when, and what happens to each tick.

:mod:`.schedules` loads and validates ``schedules/*.yaml`` with messages an analyst can act on;
:mod:`.timing` turns a cron expression and an IANA time zone into run times, DST included;
:mod:`.loop` decides per tick (run, missed, skipped) and claims it; :mod:`.jobs` runs one job:
the notebook, its HTML, the ``job_runs`` row, retries and the failure alert.
"""

from .schedules import Schedule, load_schedules
from .timing import due_between, next_run

__all__ = ["Schedule", "due_between", "load_schedules", "next_run"]
