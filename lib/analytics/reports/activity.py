"""The audit trail as a report for administrators: who ran, exported, downloaded or wrote what, and when."""

from __future__ import annotations

import datetime as dt

from ..audit import ACTIONS, AUDIT_TABLE
from ..context import RunContext
from ..db.sql import compose, identifier
from ..errors import ParameterError
from ..home.headlines import activity_headline
from .base import ReportQuery, default_period

ALL = "all"


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
    who = f" by {user}" if user else ""
    what = "" if action == ALL else f" ({action})"
    return ReportQuery(
        name="audit_trail", title=f"Activity{who}{what} from {start:%d.%m.%Y} to {end:%d.%m.%Y} (UTC)", sql=sql,
        params={"start": start.isoformat() + " 00:00:00", "end": end.isoformat() + " 00:00:00", "user": user,
                "action": action},
        key_params={"start": start, "end": end, **({"user": user} if user else {})}, headers=AUDIT_TABLE.labels,
        effective={"start": start, "end": end}, headline=activity_headline(db, end))
