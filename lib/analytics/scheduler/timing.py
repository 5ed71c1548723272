"""When a cron job is due, in its own time zone, across daylight-saving changes.

croniter walks the *wall clock* (naive local times), which has no DST confusion; each wall-clock
time is then placed on the real timeline with :mod:`zoneinfo`, the way Vixie cron does:

* a job at fixed hours (``30 2 * * *``) runs once a day, always: a time the clocks skip (02:30 on
  the night they go forward) runs at the same offset after the jump (03:30); a time that happens
  twice (02:30 on the night they go back) runs at the first of the two;
* a job that runs every hour or more often (``*`` or a step in the hour field) follows real time:
  the skipped hour has no runs, the repeated hour has runs in both of its passes.

Every function takes and returns aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from croniter import croniter

UTC = dt.UTC


def hourly_or_more(expression: str) -> bool:
    """Whether the hour field lets the job run every hour (``*``, ``*/2``…): it then follows real time."""
    fields = expression.split()
    return len(fields) >= 2 and fields[1].startswith("*")


def _instants(local: dt.datetime, zone: ZoneInfo, every_hour: bool) -> list[dt.datetime]:
    """The real instants (UTC) of one wall-clock time: none, one, or two (the repeated hour)."""
    first, second = local.replace(tzinfo=zone, fold=0), local.replace(tzinfo=zone, fold=1)
    exists = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local
    if not exists:  # skipped by the clocks going forward
        return [] if every_hour else [first.astimezone(UTC)]
    if first.utcoffset() != second.utcoffset() and every_hour:  # the repeated hour, in both passes
        return [first.astimezone(UTC), second.astimezone(UTC)]
    return [first.astimezone(UTC)]


def runs(expression: str, zone_name: str, after: dt.datetime) -> Iterator[dt.datetime]:
    """Run times strictly after ``after``, in order, as aware UTC datetimes (endless)."""
    zone = ZoneInfo(zone_name)
    every_hour = hourly_or_more(expression)
    start = after.astimezone(zone).replace(tzinfo=None) - dt.timedelta(hours=3)  # DST shifts are at most 2 hours
    walker = croniter(expression, start)
    while True:
        for instant in _instants(walker.get_next(dt.datetime), zone, every_hour):
            if instant > after:
                yield instant


def next_run(expression: str, zone_name: str, after: dt.datetime) -> dt.datetime:
    """The first run strictly after ``after``."""
    return next(runs(expression, zone_name, after))


def due_between(expression: str, zone_name: str, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every run in (start, end]: what a scheduler that was down from ``start`` to ``end`` missed."""
    found = []
    for instant in runs(expression, zone_name, start):
        if instant > end:
            break
        found.append(instant)
    return found
