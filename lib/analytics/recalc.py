"""On-demand recalculation of a daily aggregate: each day recomputed from the events and swapped in whole.

``daily_partner_activity`` holds, per day and partner, the cards added and the active users (people
with any event at that partner). When events are re-loaded or a definition changes, an analyst
recomputes a range of days. Each day is one :meth:`Database.replace_partitions` call, so a reader,
or a run killed at any moment, finds every day wholly old or wholly new; running it twice gives the
same rows once; each day swapped in is recorded as it lands. Before and after, the rows and totals of
every day are counted, so the page says what changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from .db import Database, TableSpec
from .errors import ParameterError

MAX_DAYS = 366

DAILY_PARTNER_ACTIVITY = TableSpec("daily_partner_activity", {
    "day": "Date", "partner_id": "UInt32", "card_adds": "UInt64", "active_users": "UInt64", "computed_at": "DateTime",
}, order_by=("day", "partner_id"), partition_by="day", description="Per partner and day: cards added, active users",
    labels={"day": "Day", "partner_id": "Partner", "card_adds": "Cards added", "active_users": "Active users",
            "computed_at": "Computed at (UTC)"})

DAY_SQL = ("SELECT event_date AS day, partner_id, countIf(event = 'card_add') AS card_adds,"
           " uniqExact(user_id) AS active_users, toDateTime(%(now)s) AS computed_at FROM events"
           " WHERE event_date = %(day)s AND partner_id != 0 GROUP BY day, partner_id ORDER BY partner_id")
TOTALS_SQL = ("SELECT day, count() AS rows, sum(card_adds) AS card_adds, sum(active_users) AS active_users"
              " FROM daily_partner_activity WHERE day >= %(start)s AND day <= %(end)s GROUP BY day ORDER BY day")
CHANGES_HEADERS = {"day": "Day", "rows_before": "Rows before", "rows_after": "Rows after",
                   "card_adds_before": "Cards added before", "card_adds_after": "Cards added after",
                   "active_users_before": "Active users before", "active_users_after": "Active users after",
                   "changed": "Changed"}

Say = Callable[[str], None]
Swapped = Callable[[dt.date, int], None]  # a day now wholly new, and its rows


@dataclass(frozen=True)
class DayTotals:
    rows: int = 0
    card_adds: int = 0
    active_users: int = 0


def day_totals(db: Database, start: dt.date, end: dt.date) -> dict[dt.date, DayTotals]:
    """Rows and totals per day of the aggregate as it stands (days without rows are absent)."""
    if DAILY_PARTNER_ACTIVITY.name not in db.tables():
        return {}
    rows = db.query_arrow(TOTALS_SQL, {"start": start, "end": end}).to_pylist()
    return {row["day"]: DayTotals(row["rows"], row["card_adds"], row["active_users"]) for row in rows}


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise ParameterError("end", end.isoformat(), f"a day on or after the first day ({start:%d.%m.%Y})")
    if (end - start).days >= MAX_DAYS:
        raise ParameterError("end", end.isoformat(), f"at most {MAX_DAYS} days after the first day")
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def recalculate(writer: Database, start: dt.date, end: dt.date, *, say: Say | None = None,
                now: dt.datetime | None = None, swapped: Swapped | None = None) -> pa.Table:
    """Recompute every day from ``start`` to ``end``, swapping each in whole; returns before/after per day.

    ``swapped(day, rows)`` hears of each day right after it is swapped in (before the next begins), so a
    run stopped or killed at day 31 of 60 has recorded each of its 30 swapped days (the audit's ``write`` rows).
    """
    days = days_between(start, end)
    tell = say or (lambda message: None)
    writer.create_table(DAILY_PARTNER_ACTIVITY)
    before = day_totals(writer, start, end)
    stamp = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    for number, day in enumerate(days, start=1):
        rows = writer.query_arrow(DAY_SQL, {"day": day, "now": stamp})
        writer.replace_partitions(DAILY_PARTNER_ACTIVITY.name, {day: rows})
        if swapped is not None:
            swapped(day, rows.num_rows)
        tell(f"Day {number} of {len(days)}: {day:%d.%m.%Y} recomputed ({rows.num_rows} partners)")
    after = day_totals(writer, start, end)
    return changes(days, before, after)


def changes(days: list[dt.date], before: dict[dt.date, DayTotals], after: dict[dt.date, DayTotals]) -> pa.Table:
    """One row per day: rows and totals before and after, and whether anything changed."""
    old = [before.get(day, DayTotals()) for day in days]
    new = [after.get(day, DayTotals()) for day in days]
    return pa.table({
        "day": pa.array(days, pa.date32()),
        "rows_before": [item.rows for item in old], "rows_after": [item.rows for item in new],
        "card_adds_before": [item.card_adds for item in old], "card_adds_after": [item.card_adds for item in new],
        "active_users_before": [item.active_users for item in old],
        "active_users_after": [item.active_users for item in new],
        "changed": ["yes" if a != b else "" for a, b in zip(old, new, strict=True)]})
