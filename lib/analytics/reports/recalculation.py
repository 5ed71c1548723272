"""The recalculation notebook's report: recompute a range of days of the daily aggregate, say what changed."""

from __future__ import annotations

import datetime as dt

from ..audit import AuditEvent, audit
from ..context import RunCancelled, RunContext
from ..recalc import CHANGES_HEADERS, DAILY_PARTNER_ACTIVITY, days_between, recalculate
from .base import ReportQuery, WritePlan, default_period

TARGET = f"recalculation:{DAILY_PARTNER_ACTIVITY.name}"


def recalculate_days(ctx: RunContext, start: dt.date | None = None, end: dt.date | None = None) -> WritePlan:
    """Recompute cards added and active users per partner for each day from ``start`` to ``end``.

    The plan is the range of days; its commit swaps them in one at a time, each with its own ``write`` audit
    row. Cancel is honoured between days: the days already swapped are said, the rest stay as they were.
    """
    start, end = default_period(ctx.db, start, end, "SELECT max(event_date) FROM events", days=7)
    days = days_between(start, end)

    def commit(ctx: RunContext) -> ReportQuery:
        def record(day: dt.date, rows: int) -> None:  # one `write` row per day, as soon as it is swapped in
            audit(AuditEvent("write", TARGET, {"day": day, "start": start, "end": end}, rows, run_id=ctx.run_id,
                             user=ctx.user, client=ctx.client), ctx.settings)
            if ctx.cancelled.is_set() and day < end:
                raise RunCancelled(f"{start:%d.%m.%Y}–{day:%d.%m.%Y} were recalculated; the days after "
                                   f"{day:%d.%m.%Y} are unchanged.")

        table = recalculate(ctx.writer, start, end, say=ctx.say, swapped=record)
        return _changes_query(table, start, end)

    return WritePlan(what=f"daily partner activity for {len(days)} day(s), {start:%d.%m.%Y}–{end:%d.%m.%Y}",
                     target=TARGET, commit=commit, rows=len(days), parameters={"start": start, "end": end},
                     audits_itself=True)


def _changes_query(table, start: dt.date, end: dt.date) -> ReportQuery:  # type: ignore[no-untyped-def]
    changed = [day for day, flag in zip(table.column("day").to_pylist(), table.column("changed").to_pylist(),
                                        strict=True) if flag]
    shown = ", ".join(f"{day:%d.%m}" for day in changed[:10]) + (" …" if len(changed) > 10 else "")
    facts = [f"{table.num_rows} day(s) recomputed and swapped in whole; {len(changed)} changed"
             + (f": {shown}." if changed else ".")]
    return ReportQuery(name="recalculation", title=f"Daily partner activity recomputed, {start:%d.%m.%Y}–{end:%d.%m.%Y}",
                       sql="", data=table, key_params={"start": start, "end": end}, headers=CHANGES_HEADERS,
                       facts=facts, effective={"start": start, "end": end})
