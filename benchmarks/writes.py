"""Write primitives, measured on the embedded store and on a ClickHouse 18.16 server in one run.

1. A query over a table after N single-row inserts (10,000 by default), before and after compaction
   (the baseline is the same table before compaction); with automatic compaction as shipped, too.
2. Replacing 30 days of a 10M-row table (90 daily partitions) with ``replace_partitions``, against
   the naive path: read the whole table, swap the 30 days, drop it and write it all again.

Run: ``.venv/bin/python benchmarks/writes.py [--inserts 10000] [--rows 10000000] [--skip-server]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from analytics import Database, TableSpec, connect, load_settings
from analytics.testing import ClickHouseServer
from analytics.testing.figures import print_table

FIRST_DAY = dt.date(2026, 7, 1)
DAYS = 90
SMALL = TableSpec("bench_small_inserts", {"row": "UInt64", "day": "Date", "text": "String"}, order_by=("row",))
BIG = TableSpec("bench_days", {"day": "Date", "user_id": "UInt64", "event": "String", "value": "Float64", "gen": "UInt8"},
                order_by=("day", "user_id"), partition_by="day")
QUESTION = f"SELECT count(), sum(row), uniqExact(text), min(day), max(day) FROM {SMALL.name}"


def median_seconds(action: Callable[[], object], repeat: int = 5) -> tuple[float, object]:
    result = action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def small_inserts(db: Database, count: int) -> float:
    db.drop_table(SMALL.name)
    db.create_table(SMALL)
    started = time.perf_counter()
    for row in range(count):
        db.insert(SMALL.name, pa.table({"row": pa.array([row], pa.uint64()),
                                        "day": pa.array([FIRST_DAY + dt.timedelta(days=row % DAYS)], pa.date32()),
                                        "text": [f"row {row}"]}))
    return time.perf_counter() - started


def measure_compaction(label: str, url: str, count: int, rows: list[tuple[str, str, str]]) -> None:
    with connect(url, load_settings(compact_after_parts=0)) as db:
        seconds = small_inserts(db, count)
        rows.append((f"{count:,} single-row inserts, no automatic compaction", label,
                     f"{seconds:.1f} s ({seconds / count * 1000:.1f} ms each)"))
        before_parts = db.part_count(SMALL.name)
        before, answer = median_seconds(lambda: db.query_arrow(QUESTION).to_pylist())
        rows.append(("query before compaction (baseline)", label, f"{before * 1000:.0f} ms over {before_parts:,} parts"))
        started = time.perf_counter()
        db.compact(SMALL.name)
        rows.append(("compaction", label, f"{time.perf_counter() - started:.1f} s"))
        after, again = median_seconds(lambda: db.query_arrow(QUESTION).to_pylist())
        assert again == answer, "compaction changed an answer"
        rows.append(("query after compaction", label,
                     f"{after * 1000:.0f} ms over {db.part_count(SMALL.name):,} parts ({before / after:.0f}x faster)"))
    if url.startswith("chdb"):
        with connect(url) as db:  # as shipped: small parts merged after every 64
            seconds = small_inserts(db, count)
            query, _ = median_seconds(lambda: db.query_arrow(QUESTION).to_pylist())
            rows.append((f"{count:,} single-row inserts, automatic compaction (as shipped)", label,
                         f"{seconds:.1f} s; then the query {query * 1000:.0f} ms over {db.part_count(SMALL.name)} parts"))


def day_rows(day_index: int, per_day: int, generation: int) -> pa.Table:
    rng = np.random.default_rng(day_index * 10 + generation)
    return pa.table({
        "day": pa.array(np.full(per_day, np.datetime64(FIRST_DAY) + day_index), pa.date32()),
        "user_id": pa.array(rng.integers(1, 2_000_000, per_day).astype(np.uint64)),
        "event": pa.array(np.array(["app_open", "card_show", "push_open", "error"])[rng.integers(0, 4, per_day)]),
        "value": pa.array(rng.random(per_day)),
        "gen": pa.array(np.full(per_day, generation, np.uint8)),
    })


def measure_replace(label: str, url: str, total: int, rows: list[tuple[str, str, str]]) -> None:
    per_day = total // DAYS
    replaced = range(DAYS - 30, DAYS)
    with connect(url) as db:
        def load() -> None:
            db.drop_table(BIG.name)
            db.create_table(BIG)
            db.insert(BIG.name, (day_rows(day, per_day, 0) for day in range(DAYS)))

        load()
        new_days = {FIRST_DAY + dt.timedelta(days=day): day_rows(day, per_day, 1) for day in replaced}
        started = time.perf_counter()
        db.replace_partitions(BIG.name, new_days)
        ours = time.perf_counter() - started
        check = db.query_arrow(f"SELECT gen, count() AS n FROM {BIG.name} GROUP BY gen ORDER BY gen").to_pylist()
        assert check == [{"gen": 0, "n": per_day * 60}, {"gen": 1, "n": per_day * 30}], check
        rows.append((f"replace 30 days of {per_day * DAYS:,} rows", label, f"{ours:.1f} s"))

        load()
        started = time.perf_counter()
        kept = pa.concat_tables(db.iter_chunks(f"SELECT * FROM {BIG.name} WHERE day < %(first)s",
                                               {"first": FIRST_DAY + dt.timedelta(days=60)}))
        db.drop_table(BIG.name)
        db.create_table(BIG)
        db.insert(BIG.name, [kept, *new_days.values()])
        naive = time.perf_counter() - started
        rows.append(("baseline: read, swap and rewrite the whole table", label, f"{naive:.1f} s ({naive / ours:.1f}x slower)"))
        db.drop_table(BIG.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inserts", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        backends = {"embedded (chDB 26 + Parquet)": f"chdb://{folder}/store"}
        server = None if args.skip_server else ClickHouseServer().start()
        if server is not None:
            backends["server (ClickHouse 18.16)"] = server.url
        try:
            for label, url in backends.items():
                measure_compaction(label, url, args.inserts, rows)
                measure_replace(label, url, args.rows, rows)
        finally:
            if server is not None:
                server.stop()
    print_table(rows, "figure (queries: median of 5)")


if __name__ == "__main__":
    main()
