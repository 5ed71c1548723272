"""The monitored series, read from the warehouse as one (series × points) matrix per query.

Each query groups once by (period, dimension) in ClickHouse; the pivot into a dense matrix with
zeros for empty periods is NumPy. No history is not zero: the periods before a series' first row (a new event,
the first weeks of an installation) are unknown (NaN), so the detector learns them instead of reading a
"usual 0" and calling the first real hour a rise. The SQL is plain enough for ClickHouse 18.16 and chDB alike,
and every value is bound, never formatted in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..db import Database

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class MetricFrame:
    """Regular series side by side: ``values[i]`` is series ``names[i]`` = (metric, dimension) over ``times``."""

    step: dt.timedelta
    times: np.ndarray  # datetime64[s], the start of each period
    names: list[tuple[str, str]]
    values: np.ndarray
    volume: np.ndarray | None = None  # a ratio's denominator, same shape
    kind: str = "count"

    def __len__(self) -> int:
        return len(self.names)

    def row(self, metric: str, dimension: str = "") -> np.ndarray:
        return self.values[self.names.index((metric, dimension))]


def grid(start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> np.ndarray:
    """Period starts from ``start`` up to, not including, ``end``."""
    return np.arange(np.datetime64(start, "s"), np.datetime64(end, "s"), np.timedelta64(step)).astype("datetime64[s]")


def pivot(rows: pa.Table, times: np.ndarray, metric: str, step: dt.timedelta, *, total: str | None = None,
          ratio: bool = False) -> MetricFrame:
    """Rows of (at, dimension, value[, volume]) into a dense frame; ``total`` adds a series summing all dimensions."""
    encoded = rows.column("dimension").combine_chunks().dictionary_encode() if rows.num_rows else None
    labels = encoded.dictionary.to_pylist() if encoded is not None else []
    order = sorted(range(len(labels)), key=labels.__getitem__)
    dimensions = [labels[i] for i in order]
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels))
    line = rank[encoded.indices.to_numpy(zero_copy_only=False)] if encoded is not None else np.zeros(0, np.int64)
    at = rows.column("at").to_numpy().astype("datetime64[s]") if rows.num_rows else np.array([], "datetime64[s]")
    column = ((at - times[0]) // np.timedelta64(step)).astype(np.int64) if times.size else np.zeros(0, np.int64)
    inside = (column >= 0) & (column < times.size)

    def dense(name: str) -> np.ndarray:
        matrix = np.zeros((len(dimensions), times.size))
        if rows.num_rows:
            np.add.at(matrix, (line[inside], column[inside]), rows.column(name).to_numpy(zero_copy_only=False)[inside])
        return matrix

    values, volume = dense("value"), dense("volume") if ratio else None
    first = np.full(len(dimensions), times.size, dtype=np.int64)  # each series' first period with a row
    if rows.num_rows:
        np.minimum.at(first, line[inside], column[inside])
    names = [(metric, dimension) for dimension in dimensions]
    if total is not None:
        values = np.vstack([values.sum(axis=0, keepdims=True), values])
        first = np.concatenate([[first.min(initial=times.size)], first])
        names = [(metric, total), *names]
    values[np.arange(times.size)[None, :] < first[:, None]] = np.nan  # before its first row: unknown, not 0
    if ratio and volume is not None:
        values = np.divide(values, volume, out=np.full_like(values, np.nan), where=volume > 0)
    return MetricFrame(step, times, names, values, volume, "ratio" if ratio else "count")


def _bounds(start: dt.datetime, end: dt.datetime) -> dict[str, object]:
    return {"start": start, "end": end, "first_day": start.date(), "last_day": end.date()}


EVENT_COUNTS = {
    HOUR: "SELECT toStartOfHour(event_time) AS at, event AS dimension, count() AS value FROM events "
          "WHERE event_date >= %(first_day)s AND event_date <= %(last_day)s "
          "AND event_time >= %(start)s AND event_time < %(end)s GROUP BY at, dimension",
    DAY: "SELECT toDateTime(event_date) AS at, event AS dimension, count() AS value FROM events "
         "WHERE event_date >= %(first_day)s AND event_date < %(last_day)s GROUP BY at, dimension",
}
ERROR_COUNTS = {
    HOUR: "SELECT toStartOfHour(event_time) AS at, error_code AS dimension, count() AS value FROM events "
          "WHERE event = 'error' AND event_date >= %(first_day)s AND event_date <= %(last_day)s "
          "AND event_time >= %(start)s AND event_time < %(end)s GROUP BY at, dimension",
    DAY: "SELECT toDateTime(event_date) AS at, error_code AS dimension, count() AS value FROM events "
         "WHERE event = 'error' AND event_date >= %(first_day)s AND event_date < %(last_day)s GROUP BY at, dimension",
}
# step k of a scenario over step k-1 of the same scenario, per day: the share reaching the next step
STEP_COUNTS = ("SELECT toDateTime(event_date) AS at, scenario, step, count() AS value FROM events "
               "WHERE event = 'scenario_step' AND event_date >= %(first_day)s AND event_date < %(last_day)s "
               "GROUP BY at, scenario, step")
PRODUCT_METRICS = (
    "SELECT toDateTime(event_date) AS at, 'active users' AS dimension, toFloat64(uniqExact(user_id)) AS value "
    "FROM events WHERE event_date >= %(first_day)s AND event_date < %(last_day)s GROUP BY at "
    "UNION ALL SELECT toDateTime(event_date) AS at, 'card adds' AS dimension, toFloat64(count()) AS value "
    "FROM events WHERE event = 'card_add' AND event_date >= %(first_day)s AND event_date < %(last_day)s GROUP BY at "
    "UNION ALL SELECT toDateTime(event_date) AS at, 'pushes opened' AS dimension, toFloat64(count()) AS value "
    "FROM events WHERE event = 'push_open' AND event_date >= %(first_day)s AND event_date < %(last_day)s GROUP BY at")


def event_counts(db: Database, start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> MetricFrame:
    """All events and each event, per hour or per day."""
    rows = db.query_arrow(EVENT_COUNTS[step], _bounds(start, end))
    return pivot(rows, grid(start, end, step), "events", step, total="all")


def error_counts(db: Database, start: dt.datetime, end: dt.datetime, step: dt.timedelta) -> MetricFrame:
    """Errors by code, per hour or per day."""
    return pivot(db.query_arrow(ERROR_COUNTS[step], _bounds(start, end)), grid(start, end, step), "errors", step)


def step_conversion(db: Database, start: dt.datetime, end: dt.datetime, step: dt.timedelta = DAY) -> MetricFrame:
    """Per day, events of each scenario step over events of the step before: how far people get."""
    rows = db.query_arrow(STEP_COUNTS, _bounds(start, end)).to_pylist()
    counts = {(row["at"], row["scenario"], row["step"]): row["value"] for row in rows}
    days = {at for at, _, _ in counts}
    transitions = {(scenario, step) for _, scenario, step in counts if step > 1}
    pairs = [{"at": at, "dimension": f"{scenario}: step {step - 1} → {step}", "value": counts.get((at, scenario, step), 0),
              "volume": counts.get((at, scenario, step - 1), 0)}  # a day nobody reached the step counts as 0
             for at in days for scenario, step in transitions]
    table = pa.Table.from_pylist(pairs, schema=pa.schema([("at", pa.timestamp("s")), ("dimension", pa.string()),
                                                           ("value", pa.float64()), ("volume", pa.float64())]))
    return pivot(table, grid(start, end, DAY), "conversion", DAY, ratio=True)


def product_metrics(db: Database, start: dt.datetime, end: dt.datetime, step: dt.timedelta = DAY) -> MetricFrame:
    """Active users, card adds and pushes opened per day."""
    return pivot(db.query_arrow(PRODUCT_METRICS, _bounds(start, end)), grid(start, end, DAY), "product", DAY)


# the table each source reads: its freshness is that table's, so a late table is one "no new data" alert
TABLES = {"events": "events", "errors": "events", "conversion": "events", "product": "events"}
# every source: (db, start, end, step) -> frame; conversion and product metrics are daily only
SOURCES: dict[str, Callable[[Database, dt.datetime, dt.datetime, dt.timedelta], MetricFrame]] = {
    "events": event_counts, "errors": error_counts, "conversion": step_conversion, "product": product_metrics,
}
