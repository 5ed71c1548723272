"""The export builder: any whitelisted table, chosen columns, a date range and simple filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..context import RunContext
from ..db import Identifier, compose, identifier
from ..errors import ParameterError
from ..warehouse import WAREHOUSE, column
from ..warehouse import columns as checked_columns
from .base import ReportQuery, default_period

# Tables open to the builder, and the time column its date range applies to.
BUILDER_TABLES = {"cards": "added_at", "events": "event_date", "pushes": "created_at", "push_deliveries": "sent_at",
                  "users": "registered_at", "partners": "created_at", "experiment_assignments": "assigned_at"}


def export_builder(ctx: RunContext, table: str = "cards", columns: Sequence[str] = ("card_id", "partner_id"),
                   start: dt.date | None = None, end: dt.date | None = None, partner_id: int = 0,
                   row_limit: int = 100_000) -> ReportQuery:
    """Rows of one table in a period, optionally for one partner, at most ``row_limit`` rows."""
    db = ctx.db
    if table not in BUILDER_TABLES:
        raise ParameterError("table", table, f"one of {', '.join(BUILDER_TABLES)}")
    time_column = column(table, BUILDER_TABLES[table])
    chosen = checked_columns(table, columns)
    day = compose("toDate({t})", t=time_column)
    start, end = default_period(db, start, end, "SELECT max(" + day + ") FROM " + compose("{t}", t=_table(table)))
    filters = day + " BETWEEN %(start)s AND %(end)s"
    if partner_id:
        if "partner_id" not in WAREHOUSE[table].columns:
            raise ParameterError("partner_id", partner_id, f"table {table} has no partner; leave it at 0")
        filters += " AND partner_id = %(partner)s"
    sql = (compose("SELECT {c} FROM {t}", c=chosen, t=_table(table)) + " WHERE " + filters
           + compose(" ORDER BY {o}", o=time_column) + " LIMIT %(limit)s")
    return ReportQuery(
        name=f"export_{table}", title=f"{table}: rows from {start:%d.%m.%Y} to {end:%d.%m.%Y}"
        + (f" for partner {partner_id}" if partner_id else ""), sql=sql,
        params={"start": start, "end": end, "partner": partner_id, "limit": row_limit},
        key_params={"from": start, "to": end}, headers=WAREHOUSE[table].labels,
        effective={"start": start, "end": end})


def _table(name: str) -> Identifier:
    return identifier(name, BUILDER_TABLES, kind="table")
