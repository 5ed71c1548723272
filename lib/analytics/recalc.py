"""On-demand recalculation of a daily aggregate: each day recomputed from the events and swapped in whole.

``daily_partner_activity`` holds, per day and partner, the cards added and the active users (people
with any event at that partner). When events are re-loaded or a definition changes, an analyst
recomputes a range of days. Each day is one :meth:`Database.replace_partitions` call, so a reader,
or a run killed at any moment, finds every day wholly old or wholly new; running it twice gives the
same rows once; each day swapped in is recorded as it lands. Before and after, the rows and totals of
every day are counted, so the page says what changed.

Only days within the events' span (the oldest to the newest day with events) are recomputed. A day past the
newest data is not a day without activity but a day not loaded yet: recomputing it would write an empty day
and report "0 partners" as if it had worked. :func:`recalculate` refuses such days before writing anything;
:func:`covered` tells a range's covered part from its skipped days, for a page to say which were left alone.
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

SPAN_SQL = "SELECT min(event_date) AS first, max(event_date) AS last, count() AS events FROM events"  # 18.16 has no -OrNull

Say = Callable[[str], None]
Swapped = Callable[[dt.date, int], None]  # a day now wholly new, and its rows


@dataclass(frozen=True)
class DayTotals:
    rows: int = 0
    card_adds: int = 0
    active_users: int = 0


@dataclass(frozen=True)
class EventDays:
    """The oldest and the newest day with events: outside them a day's events are not loaded, not absent."""

    first: dt.date
    last: dt.date


@dataclass(frozen=True)
class Coverage:
    """The part of the asked days that has events, and a sentence for each run of days left out."""

    start: dt.date
    end: dt.date
    skipped: tuple[str, ...] = ()


def event_days(db: Database) -> EventDays:
    """The events' span; a ParameterError (on the first day) when there are no events at all."""
    row = db.query_arrow(SPAN_SQL).to_pylist()[0] if "events" in db.tables() else {"events": 0}
    if not row["events"]:  # an empty table's min and max are 1970-01-01, not "no day"
        raise ParameterError("start", None, "there are no events in the warehouse yet, so there is nothing to "
                                            "recalculate; nothing was changed")
    return EventDays(row["first"], row["last"])


def covered(days: EventDays, start: dt.date, end: dt.date) -> Coverage:
    """``start``..``end`` cut to the days with events; the days cut are named. When no asked day has events a
    ParameterError says so and names the newest (or oldest) day with events: nothing is to be written."""
    shown = f"{start:%d.%m.%Y}" + (f"–{end:%d.%m.%Y}" if end != start else "")
    if start > days.last:
        raise ParameterError("start", start.isoformat(), f"there are no events for {shown}: the newest day with events "
                                                         f"is {days.last:%d.%m.%Y}. Nothing was recalculated")
    if end < days.first:
        raise ParameterError("end", end.isoformat(), f"there are no events for {shown}: the oldest day with events "
                                                     f"is {days.first:%d.%m.%Y}. Nothing was recalculated")
    skipped = []
    if start < days.first:
        skipped.append(f"{_days(start, days.first - dt.timedelta(days=1))} skipped: there are no events before "
                       f"{days.first:%d.%m.%Y}, the oldest day with events; those days were not changed.")
    if end > days.last:
        skipped.append(f"{_days(days.last + dt.timedelta(days=1), end)} skipped: there are no events after "
                       f"{days.last:%d.%m.%Y}, the newest day with events; those days were not changed.")
    return Coverage(max(start, days.first), min(end, days.last), tuple(skipped))


def _days(first: dt.date, last: dt.date) -> str:
    return f"{first:%d.%m.%Y}" if first == last else f"{first:%d.%m.%Y}–{last:%d.%m.%Y}"


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
    A day outside the events' span is refused (ParameterError) before anything is written: see :func:`covered`.
    """
    days = days_between(start, end)
    span = event_days(writer)
    covered(span, start, end)  # no asked day has events: refused, saying so
    if start < span.first:
        raise ParameterError("start", start.isoformat(), f"there are no events before {span.first:%d.%m.%Y}, the oldest "
                                                         "day with events; choose it or a later day. Nothing was recalculated")
    if end > span.last:
        raise ParameterError("end", end.isoformat(), f"there are no events after {span.last:%d.%m.%Y}, the newest day "
                                                     "with events; choose it or an earlier day. Nothing was recalculated")
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
