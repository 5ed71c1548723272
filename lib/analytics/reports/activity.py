"""The audit trail as a report for administrators: who ran, exported, downloaded or wrote what, and when."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..audit import ACTIONS, AUDIT_TABLE
from ..charts import daily_chart
from ..context import RunContext
from ..db import Database
from ..db.sql import compose, identifier
from ..errors import ParameterError
from ..home.headlines import activity_headline
from .base import Chart, ReportQuery, default_period

ALL = "all"
# the chart's lines: kinds of event a person tells apart at a glance (a burst of refused sign-ins stands out)
KINDS = {"run": "Runs", "run_failed": "Failed runs", "export": "Exports and downloads",
         "download": "Exports and downloads", "sign_in": "Sign-ins", "sign_in_refused": "Refused sign-ins",
         "write": "Writes and clean-ups", "write_failed": "Writes and clean-ups", "cleanup": "Writes and clean-ups"}


def audit_trail(ctx: RunContext, start: dt.date | None = None, end: dt.date | None = None, user: str = "",
                action: str = ALL) -> ReportQuery:
    """Audit rows between two days (UTC), newest first, for one person and one kind of event if given."""
    db = ctx.db
    if AUDIT_TABLE.name not in db.tables():
        raise ParameterError("start", start.isoformat() if start else "", "nothing has been recorded yet")
    if action != ALL and action not in ACTIONS:
        raise ParameterError("action", action, f"must be one of: {', '.join((ALL, *ACTIONS))}")
    start, end = default_period(db, start, end, "SELECT toDate(max(at)) FROM audit_log", days=7)
    columns = [identifier(name, AUDIT_TABLE.columns) for name in AUDIT_TABLE.columns if name != "event_id"]
    sql = compose("SELECT {columns} FROM audit_log WHERE at >= toDateTime(%(start)s) AND at < toDateTime(%(end)s) + 86400"
                  " AND (%(user)s = '' OR user = %(user)s) AND (%(action)s = 'all' OR action = %(action)s)"
                  " ORDER BY at DESC, event_id", columns=columns)
    bound = {"start": start.isoformat() + " 00:00:00", "end": end.isoformat() + " 00:00:00", "user": user,
             "action": action}
    who = f" by {user}" if user else ""
    what = "" if action == ALL else f" ({action})"
    return ReportQuery(
        name="audit_trail", title=f"Activity{who}{what} from {start:%d.%m.%Y} to {end:%d.%m.%Y} (UTC)", sql=sql,
        params=bound, key_params={"start": start, "end": end, **({"user": user} if user else {})},
        headers=AUDIT_TABLE.labels, effective={"start": start, "end": end}, row_noun=("event", "events"),
        charts=_by_day(db, bound, start, end), headline=activity_headline(db, end))


def _by_day(db: Database, bound: dict[str, str], start: dt.date, end: dt.date) -> tuple[Chart, ...]:
    """Events per day and kind, quiet days as 0, so an unusual day (a burst of refused sign-ins) shows at once."""
    counted = db.query_arrow(
        "SELECT toDate(at) AS day, action, count() AS events FROM audit_log WHERE at >= toDateTime(%(start)s)"
        " AND at < toDateTime(%(end)s) + 86400 AND (%(user)s = '' OR user = %(user)s)"
        " AND (%(action)s = 'all' OR action = %(action)s) GROUP BY day, action", bound).to_pandas()
    if counted.empty:
        return ()
    counted["kind"] = counted["action"].map(KINDS).fillna("Other")
    days = pd.Index([start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)], name="day")
    table = counted.pivot_table(index="day", columns="kind", values="events", aggfunc="sum", fill_value=0)
    table.index = [value.date() if isinstance(value, pd.Timestamp) else value for value in table.index]
    table = table.reindex(days, fill_value=0)
    order = [kind for kind in dict.fromkeys(KINDS.values()) if kind in table.columns] + (
        ["Other"] if "Other" in table.columns else [])
    return (daily_chart(table[order].reset_index(), "Events per day"),)
