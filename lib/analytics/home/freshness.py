"""When a tile is late: its source stopped delivering, or its job stopped refreshing it.

A job refreshes its tile once per period of its cron; the scheduler already allows a grace window (by default
one period) before it calls a tick missed. A tile is *late* when either

* its data ends more than a period and the grace before now (the warehouse has not loaded new rows), or
* it was last refreshed more than a period and the grace before now (the job fails or does not run).

A late tile is grey and says since when nothing new came, so nobody reads an old figure as today's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Freshness:
    late: bool
    words: str  # "Data until 15.11.2026, refreshed 06.12.2026 10:10" or "No new data since 15.11.2026"


def end_of(moment: dt.datetime | dt.date) -> dt.datetime:
    """A day's data covers the whole day: it runs until the next midnight."""
    if isinstance(moment, dt.datetime):
        return moment.replace(tzinfo=None)
    return dt.datetime.combine(moment + dt.timedelta(days=1), dt.time())


def shown_day(moment: dt.datetime | dt.date) -> str:
    return f"{moment:%d.%m.%Y}"


def judge(data_until: dt.datetime | dt.date | None, refreshed_at: dt.datetime | None, allowed: dt.timedelta,
          now: dt.datetime, refreshed_words: str = "") -> Freshness:
    """Late or not, in words; ``allowed`` is the schedule's period plus its grace, ``now`` and ``refreshed_at``
    in the same clock. Data without a date (a figure that is a state, not a series) is judged by its refresh."""
    if data_until is not None and end_of(data_until) + allowed < now:
        return Freshness(True, f"No new data since {shown_day(data_until)}")
    if refreshed_at is None or refreshed_at + allowed < now:
        since = f" since {shown_day(refreshed_at)}" if refreshed_at is not None else ""
        return Freshness(True, f"Not refreshed{since}: its scheduled job did not run or failed")
    until = f"Data until {shown_day(data_until)}, " if data_until is not None else ""
    return Freshness(False, f"{until}refreshed {refreshed_words or shown_day(refreshed_at)}")
