"""The recalculation notebook's report: recompute a range of days of the daily aggregate, say what changed."""

from __future__ import annotations

import datetime as dt

from ..audit import AuditEvent, audit
from ..config import load_settings
from ..db import Database, connect
from ..progress import say
from ..recalc import CHANGES_HEADERS, DAILY_PARTNER_ACTIVITY, covered, days_between, event_days, recalculate
from .base import ReportQuery, default_period


def recalculate_days(db: Database, start: dt.date | None = None, end: dt.date | None = None) -> ReportQuery:
    """Recompute cards added and active users per partner for each day from ``start`` to ``end``.

    Only the days with events are recomputed: days past the newest (or before the oldest) day with events are
    left alone and named on the page, since a person who asks for 10.11–20.11 with data up to 15.11 wants the
    days that have data done, and must not read "0 partners" for days not loaded yet; a range with no such day
    is refused, saying so, and nothing is written."""
    span = event_days(db)
    if end is None:  # empty: the newest day with events (or the first day asked, when that is later still)
        end = max(span.last, start or span.last)
    start, end = default_period(db, start, end, "SELECT max(event_date) FROM events", days=7)
    days_between(start, end)  # a reversed or too long range is refused as asked, before it is cut
    within = covered(span, start, end)
    start, end = within.start, within.end
    settings = load_settings()

    def record(day: dt.date, rows: int) -> None:  # one `write` row per day, as soon as it is swapped in
        audit(AuditEvent("write", f"recalculation:{DAILY_PARTNER_ACTIVITY.name}", {"day": day, "start": start,
                                                                                  "end": end}, rows), settings)

    with connect(settings.writer_url, settings=settings) as writer:
        table = recalculate(writer, start, end, say=say, swapped=record)
    changed = [day for day, flag in zip(table.column("day").to_pylist(), table.column("changed").to_pylist(),
                                        strict=True) if flag]
    shown = ", ".join(f"{day:%d.%m}" for day in changed[:10]) + (" …" if len(changed) > 10 else "")
    facts = [f"{table.num_rows} day(s) recomputed and swapped in whole; {len(changed)} changed"
             + (f": {shown}." if changed else "."), *within.skipped]
    return ReportQuery(name="recalculation", title=f"Daily partner activity recomputed, {start:%d.%m.%Y}–{end:%d.%m.%Y}",
                       sql="", data=table, key_params={"start": start, "end": end}, headers=CHANGES_HEADERS,
                       facts=facts, effective={"start": start, "end": end})
