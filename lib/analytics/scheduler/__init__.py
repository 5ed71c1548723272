"""Scheduled notebooks: schedules/*.yaml (what, when, with which values) and when each job is due.

:mod:`.timing` turns a cron expression and an IANA time zone into run times, DST included;
:mod:`.schedules` loads and validates the YAML files with messages an analyst can act on.
"""

from .schedules import Schedule, load_schedules
from .timing import due_between, next_run

__all__ = ["Schedule", "due_between", "load_schedules", "next_run"]
