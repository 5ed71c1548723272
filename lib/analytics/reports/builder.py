"""The export builder: any whitelisted table, chosen columns, a date range and simple filters.

Every row of the period goes into the files (an XLSX continues on further sheets past Excel's limit).
A row limit, when someone sets one, never cuts silently: the title, a notice on the page, the file
names and a sheet of the workbook say "the first N of M rows", up to which day, and to narrow the period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any

import pyarrow as pa

from ..context import RunContext
from ..db import Database, Identifier, compose, identifier
from ..errors import ParameterError
from ..warehouse import WAREHOUSE, column
from ..warehouse import columns as checked_columns
from .base import Notice, ReportQuery, default_period, partner_name

# Tables open to the builder, and the time column its date range applies to.
BUILDER_TABLES = {"cards": "added_at", "events": "event_date", "pushes": "created_at", "push_deliveries": "sent_at",
                  "users": "registered_at", "partners": "created_at", "experiment_assignments": "assigned_at"}
THEN_BY = {"events": "event_time"}  # within a day, in time order (the day column is the one the period filters on)
LIMITED_SHEET = "Only part of the rows"  # the workbook's sheet that says so


@dataclass(frozen=True)
class Cut:
    """What a row limit leaves out: the files hold the first ``kept`` of ``total`` rows, up to ``last_day``."""

    kept: int
    total: int
    last_day: dt.date
    whole_last_day: bool  # the limit fell exactly at the end of that day


def export_builder(ctx: RunContext, table: str = "cards", columns: Sequence[str] = ("card_id", "partner_id"),
                   start: dt.date | None = None, end: dt.date | None = None, partner_id: int = 0,
                   row_limit: int = 0) -> ReportQuery:
    """Rows of one table in a period, optionally for one partner: every row, or the first ``row_limit`` (0: no limit)."""
    db = ctx.db
    if table not in BUILDER_TABLES:
        raise ParameterError("table", table, f"one of {', '.join(BUILDER_TABLES)}")
    if row_limit < 0:
        raise ParameterError("row_limit", row_limit, "0 (every row) or a positive number")
    time_column = column(table, BUILDER_TABLES[table])
    chosen = checked_columns(table, columns)
    day = compose("toDate({t})", t=time_column)
    start, end = default_period(db, start, end, "SELECT max(" + day + ") FROM " + compose("{t}", t=_table(table)))
    filters = " WHERE " + day + " BETWEEN %(start)s AND %(end)s"
    if partner_id:
        if "partner_id" not in WAREHOUSE[table].columns:
            raise ParameterError("partner_id", partner_id, f"table {table} has no partner; choose All partners")
        filters += " AND partner_id = %(partner)s"
    params: dict[str, Any] = {"start": start, "end": end, "partner": partner_id}
    order = [time_column, *([column(table, THEN_BY[table])] if table in THEN_BY else [])]
    order += [name for name in chosen if name not in order]  # rows of one moment in one order, on any server or shard
    sql = compose("SELECT {c} FROM {t}", c=chosen, t=_table(table)) + filters + compose(" ORDER BY {o}", o=order)
    period = f"from {start:%d.%m.%Y} to {end:%d.%m.%Y}" + (f" for {partner_name(db, partner_id)}" if partner_id else "")
    query = ReportQuery(name=f"export_{table}", title=f"{table}: rows {period}", sql=sql, params=params,
                        key_params={"from": start, "to": end}, headers=WAREHOUSE[table].labels,
                        effective={"start": start, "end": end})
    if not row_limit:
        return query
    query = replace(query, sql=sql + " LIMIT %(limit)s", params={**params, "limit": row_limit})
    cut = _cut(db, day, _table(table), filters, params, row_limit)
    return _limited(query, table, period, cut) if cut is not None else query


def _cut(db: Database, day: str, table: Identifier, filters: str, params: dict[str, Any], limit: int) -> Cut | None:
    """How many rows the period has, and where the limit stops them (None: the limit leaves nothing out).

    Rows per day, summed here: one small query that both ClickHouse 18.16 and chDB run, with no window function.
    """
    per_day = db.query_arrow("SELECT " + day + " AS d, count() AS n FROM " + compose("{t}", t=table) + filters
                             + " GROUP BY d ORDER BY d", params).to_pylist()
    total = sum(row["n"] for row in per_day)
    if total <= limit:
        return None
    reached, so_far = next((row["d"], so_far) for row, so_far in zip(per_day, accumulate(row["n"] for row in per_day),
                                                                      strict=True) if so_far >= limit)
    return Cut(limit, total, reached, so_far == limit)


def _limited(query: ReportQuery, table: str, period: str, cut: Cut) -> ReportQuery:
    """The query's title, notice, file names and workbook saying plainly that only the first rows are in."""
    first = f"the first {cut.kept:,} of {cut.total:,} rows"
    reach = f"{cut.last_day:%d.%m.%Y}" + ("" if cut.whole_last_day else " (part of that day)")
    sentence = (f"Only {first} {period} are in the files: the row limit stops them at {reach}. "
                "Narrow the period (or raise the row limit) to get every row.")
    note = ReportQuery(name="limited", title=sentence, sql="", data=pa.table({"note": [sentence]}),
                       label=LIMITED_SHEET, headers={"note": "Note"})
    return replace(query, title=f"{table}: {first} {period}; narrow the period to get them all",
                   key_params={**query.key_params, "rows": f"first {cut.kept} of {cut.total}"},
                   notices=(*query.notices, Notice("yellow", sentence)), sheets=(*query.sheets, note))


def _table(name: str) -> Identifier:
    return identifier(name, BUILDER_TABLES, kind="table")
