"""One engine per store folder shared by a process's connections, against views kept per connection.

Run: ``.venv/bin/python benchmarks/embedded_engine.py [--scale small] [--rounds 15]``.
Loads the demo data into an embedded store in a temporary folder and times one typical report query
("daily count per event, 90 days") on N connections taking turns, in the same run:

* shared engine: the product (every connection a handle on the folder's engine: one set of views);
* per-connection views (baseline, as before issue 18): each connection given an engine of its own, so each
  keeps its own views and makes them again itself after a write, as each ``Database`` object did.

"steady" is a query with nothing written since the last; "after a write" follows an insert into another
table by a further connection (every view set notices the new manifest); "snapshot after a write" is a
query inside a snapshot that was pinned before the write (the shared engine then gives the snapshot a
database of its own, made once; with views per connection the snapshot does not hold there, the bug
this fixes). Both kinds are open side by side and measured in turns, round by round (the machine's load
falls on both alike). Figures are the median and 90th percentile of every query's latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable

import pyarrow as pa

from analytics import TableSpec, connect
from analytics.db import Database
from analytics.db.engine import Engine
from analytics.testing.figures import print_rows
from analytics.warehouse import demo

SQL = ("SELECT event_date, event, count() AS events FROM events WHERE event_date >= %(start)s "
       "GROUP BY event_date, event ORDER BY event_date, event")
MARKS = TableSpec("bench_marks", {"n": "UInt32"}, order_by=("n",))


def own_engine(db: Database) -> Database:
    """The baseline: the connection leaves the shared engine for one of its own (views per connection)."""
    db._engine.detach()  # type: ignore[attr-defined]  # noqa: SLF001 - a benchmark of the internals
    engine = Engine(db.root)  # type: ignore[attr-defined]
    engine._handles = 1  # noqa: SLF001
    db._engine = engine  # type: ignore[attr-defined]  # noqa: SLF001
    return db


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def measure(url: str, connections: int, rounds: int, params: dict) -> dict[str, dict[str, list[float]]]:
    """Both kinds of connections open side by side, measured in turns round by round (the machine's load is shared)."""
    kinds = {"shared engine": [connect(url, read_only=True) for _ in range(connections)],
             "baseline: views per connection": [own_engine(connect(url, read_only=True)) for _ in range(connections)]}
    times = {kind: {"steady": [], "after a write": [], "snapshot after a write": []} for kind in kinds}
    with connect(url) as writer:
        def mark(value: int) -> None:
            writer.insert(MARKS.name, pa.table({"n": pa.array([value], pa.uint32())}))

        for readers in kinds.values():
            for db in readers:
                db.query(SQL, params)  # warm: session made, views made
        for value in range(rounds):
            for kind, readers in kinds.items():
                for db in readers:
                    times[kind]["steady"].append(timed(lambda db=db: db.query(SQL, params)))
                for db in readers:
                    mark(value)
                    times[kind]["after a write"].append(timed(lambda db=db: db.query(SQL, params)))
                with readers[0].snapshot():
                    readers[0].query(SQL, params)
                    mark(value)
                    for db in readers[1:]:
                        db.query(SQL, params)  # the others move the live views on
                    times[kind]["snapshot after a write"].append(timed(lambda db=readers[0]: db.query(SQL, params)))
    for readers in kinds.values():
        for db in readers:
            db.close()
    return times


def figure(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered):.1f} / {ordered[int(len(ordered) * 0.9)]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="small", choices=list(demo.SCALES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    params = {"start": demo.DEMO_END - dt.timedelta(days=89)}
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"chdb://{folder}/store"
        with connect(url) as db:
            demo.load(db, args.scale, args.seed)
            db.create_table(MARKS)
            tables = len(db.tables())
        for connections in args.connections:
            for kind, times in measure(url, connections, args.rounds, params).items():
                rows.append([connections, kind, *(figure(values) for values in times.values())])
    print(f"{args.scale} demo, {tables} tables; query latency, median / 90th percentile, {args.rounds} rounds")
    print_rows(["connections", "views", "steady", "after a write", "snapshot after a write"], rows)


if __name__ == "__main__":
    main()
