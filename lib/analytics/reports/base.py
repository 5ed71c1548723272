"""What every report returns, and the defaults reports share."""

from __future__ import annotations

import datetime as dt

from ..db import Database
from ..errors import ParameterError
from ..results import Chart, Notice, ReportQuery, WritePlan

__all__ = ["Chart", "Notice", "ReportQuery", "WritePlan", "biggest_partner", "default_period", "partner_name"]


def default_period(db: Database, start: dt.date | None, end: dt.date | None, latest_sql: str,
                   days: int = 30) -> tuple[dt.date, dt.date]:
    """Fill an empty end with the latest day that has data, an empty start with ``days`` before the end."""
    if end is None:
        end = db.scalar(latest_sql) or dt.date.today()
        if isinstance(end, dt.datetime):
            end = end.date()
    if start is None:
        start = end - dt.timedelta(days=days - 1)
    if start > end:
        raise ParameterError("start", start.isoformat(), f"a day on or before the last day ({end:%d.%m.%Y})")
    return start, end


def partner_name(db: Database, partner_id: int) -> str:
    name = db.scalar("SELECT name FROM partners WHERE partner_id = %(p)s", {"p": partner_id})
    if name is None:
        raise ParameterError("partner_id", partner_id, "there is no partner with this number")
    return str(name)


def biggest_partner(db: Database) -> int:
    return int(db.scalar("SELECT partner_id FROM cards GROUP BY partner_id ORDER BY count() DESC LIMIT 1") or 0)
