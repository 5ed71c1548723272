"""Foundation figures: demo generation and load, and three typical report queries on both backends.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/foundation.py [--scale default]``).
Starts its own ClickHouse server (Debian's 18.16) on loopback and an embedded store in a
temporary folder, loads the same seed into both, and prints one table. The baseline for
the queries is the obvious one without a SQL engine: pandas over the same Parquet files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from analytics import connect
from analytics.testing import ClickHouseServer
from analytics.testing.figures import print_table
from analytics.warehouse import demo

QUERIES = {
    "partner's cards, 30 days": (
        "SELECT card_id, user_id, card_number, barcode, origin, issued_at, added_at FROM cards "
        "WHERE partner_id = %(partner)s AND added_at >= %(start)s AND added_at < %(end)s ORDER BY added_at"),
    "daily count per event, 90 days": (
        "SELECT event_date, event, count() AS events FROM events WHERE event_date >= %(start90)s "
        "GROUP BY event_date, event ORDER BY event_date, event"),
    "push delivery report": (
        "SELECT push_id, sub_id, title, sent, delivered, opened, delivered / sent AS delivery_rate, "
        "opened / delivered AS open_rate FROM pushes ALL INNER JOIN ("
        " SELECT push_id, count() AS sent, countIf(isNotNull(delivered_at)) AS delivered,"
        " countIf(isNotNull(opened_at)) AS opened FROM push_deliveries GROUP BY push_id"
        ") USING push_id ORDER BY push_id"),
}


def timed(action: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    action()  # warm up: caches, connections
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def pandas_baseline(root: Path, params: dict) -> dict[str, Callable[[], pd.DataFrame]]:
    def table(name: str, **kwargs: object) -> pd.DataFrame:
        return ds.dataset(root / name, format="parquet", exclude_invalid_files=True).to_table(**kwargs).to_pandas()

    def cards() -> pd.DataFrame:
        frame = table("cards", filter=(ds.field("partner_id") == params["partner"]))
        frame = frame[(frame.added_at >= params["start"]) & (frame.added_at < params["end"])]
        return frame.drop(columns=["deleted_at"]).sort_values("added_at")

    def daily() -> pd.DataFrame:
        frame = table("events", columns=["event_date", "event"], filter=ds.field("event_date") >= params["start90"])
        return frame.groupby(["event_date", "event"]).size().reset_index(name="events")

    def pushes() -> pd.DataFrame:
        deliveries = table("push_deliveries")
        stats = deliveries.groupby("push_id").agg(sent=("user_id", "size"), delivered=("delivered_at", "count"),
                                                  opened=("opened_at", "count")).reset_index()
        frame = table("pushes").merge(stats, on="push_id")
        return frame.assign(delivery_rate=frame.delivered / frame.sent, open_rate=frame.opened / frame.delivered)

    return dict(zip(QUERIES, [cards, daily, pushes], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="default", choices=list(demo.SCALES))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    end = demo.DEMO_END
    params = {"partner": 3, "start": dt.datetime.combine(end - dt.timedelta(days=29), dt.time()),
              "end": dt.datetime.combine(end + dt.timedelta(days=1), dt.time()), "start90": end - dt.timedelta(days=89)}
    rows: list[tuple[str, str, str]] = []

    started = time.perf_counter()
    tables = demo.generate(args.scale, args.seed)
    rows.append((f"generate demo data ({args.scale}, {tables['events'].num_rows:,} events)", "-",
                 f"{time.perf_counter() - started:.1f} s"))
    with tempfile.TemporaryDirectory() as folder, ClickHouseServer() as server:
        backends = {"embedded (chDB 26 + Parquet)": connect(f"chdb://{folder}/store"),
                    "server (ClickHouse 18.16)": connect(server.url)}
        for label, db in backends.items():
            started = time.perf_counter()
            demo.load(db, args.scale, args.seed)
            rows.append(("generate + load demo data", label, f"{time.perf_counter() - started:.1f} s"))
        baseline = pandas_baseline(Path(folder) / "store", params)
        for name, sql in QUERIES.items():
            counts = set()
            for label, db in backends.items():
                seconds, result = timed(lambda db=db, sql=sql: db.query(sql, params))
                counts.add(len(result))
                rows.append((name, label, f"{seconds * 1000:.0f} ms ({len(result):,} rows)"))
            seconds, result = timed(baseline[name])
            counts.add(len(result))
            rows.append((name, "baseline: pandas over the Parquet files", f"{seconds * 1000:.0f} ms ({len(result):,} rows)"))
            assert len(counts) == 1, f"{name}: backends disagree on the row count {counts}"
        for db in backends.values():
            db.close()
    print_table(rows, "median of 5")


if __name__ == "__main__":
    main()
