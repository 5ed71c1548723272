"""The recalculation notebook's report: recompute a range of days of the daily aggregate, say what changed."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ..audit import AuditEvent, audit
from ..context import RunCancelled, RunContext
from ..recalc import CHANGES_HEADERS, DAILY_PARTNER_ACTIVITY, covered, days_between, event_days, recalculate
from ..words import counted
from .base import ReportQuery, WritePlan, default_period

TARGET = f"recalculation:{DAILY_PARTNER_ACTIVITY.name}"


def recalculate_days(ctx: RunContext, start: dt.date | None = None, end: dt.date | None = None) -> WritePlan:
    """Recompute cards added and active users per partner for each day from ``start`` to ``end``.

    Only the days with events are recomputed: days past the newest (or before the oldest) day with events are
    left alone and named on the page, since a person who asks for 10.11–20.11 with data up to 15.11 wants the
    days that have data done, and must not read "0 partners" for days not loaded yet; a range with no such day
    is refused, saying so, and nothing is written.

    The plan is the range of days; its commit swaps them in one at a time, each with its own ``write`` audit
    row. Cancel is honoured between days: the days already swapped are said, the rest stay as they were.
    """
    db = ctx.db
    span = event_days(db)
    if end is None:  # empty: the newest day with events (or the first day asked, when that is later still)
        end = max(span.last, start or span.last)
    start, end = default_period(db, start, end, "SELECT max(event_date) FROM events", days=7)
    days_between(start, end)  # a reversed or too long range is refused as asked, before it is cut
    within = covered(span, start, end)
    first, last = within.start, within.end
    days = days_between(first, last)

    def commit(ctx: RunContext) -> ReportQuery:
        def record(day: dt.date, rows: int) -> None:  # one `write` row per day, as soon as it is swapped in
            audit(AuditEvent("write", TARGET, {"day": day, "start": first, "end": last}, rows, run_id=ctx.run_id,
                             user=ctx.user, client=ctx.client), ctx.settings)
            if ctx.cancelled.is_set() and day < last:
                raise RunCancelled(f"Days {first:%d.%m.%Y}–{day:%d.%m.%Y} were recalculated; the days after "
                                   f"{day:%d.%m.%Y} are unchanged.")

        table = recalculate(ctx.writer, first, last, say=ctx.say, swapped=record)
        return _changes_query(table, first, last, within.skipped)

    return WritePlan(what=f"daily partner activity for {counted(len(days), 'day')}, {first:%d.%m.%Y}–{last:%d.%m.%Y}",
                     target=TARGET, commit=commit, rows=len(days), parameters={"start": first, "end": last},
                     audits_itself=True)


def _changes_query(table: pa.Table, start: dt.date, end: dt.date, skipped: tuple[str, ...]) -> ReportQuery:
    changed = [day for day, flag in zip(table.column("day").to_pylist(), table.column("changed").to_pylist(),
                                        strict=True) if flag]
    shown = ", ".join(f"{day:%d.%m}" for day in changed[:10]) + (" …" if len(changed) > 10 else "")
    facts = [f"{counted(table.num_rows, 'day')} recomputed and swapped in whole; {len(changed):,} changed"
             + (f": {shown}." if changed else "."), *skipped]
    return ReportQuery(name="recalculation", title=f"Daily partner activity recomputed, {start:%d.%m.%Y}–{end:%d.%m.%Y}",
                       sql="", data=table, key_params={"start": start, "end": end}, headers=CHANGES_HEADERS,
                       facts=facts, effective={"start": start, "end": end}, row_noun=None)
