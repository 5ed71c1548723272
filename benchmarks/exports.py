"""Export figures: our streaming XLSX/CSV writers against the obvious baseline, in one run.

Run: ``.venv/bin/python benchmarks/exports.py [--rows 1000000] [--big-rows 10000000]``.

Each measurement runs in its own process, so its peak memory (VmHWM) is its own:
* ours: the database layer streams Arrow chunks into our writers (analytics.exports);
* baseline: the whole result into pandas (read_sql-style), then ``DataFrame.to_excel``
  (openpyxl) and ``DataFrame.to_csv``;
* ClickHouse itself (chDB) writing the same rows as CSV to a file.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

COLUMNS = {
    "card_id": "UInt64", "user_id": "UInt64", "card_number": "String", "barcode": "String", "partner": "String",
    "region": "String", "origin": "String", "issued_at": "DateTime", "added_at": "DateTime", "day": "Date",
    "amount": "Float64", "points": "Int32",
}
WORDS = np.array(["Пятёрочка", "ВкусВилл", "«Лента»", "O'Stin", "Москва", "Санкт-Петербург", "Екатеринбург", "=SUM(A1)"])
SQL = "SELECT * FROM bench_rows"


def rows_table(start: int, count: int) -> pa.Table:
    rng = np.random.default_rng(start)
    base = np.datetime64("2026-01-01T00:00:00")
    seconds = rng.integers(0, 10**7, (2, count)).astype("timedelta64[s]")
    return pa.table({
        "card_id": pa.array(np.arange(start, start + count, dtype=np.uint64)),
        "user_id": pa.array(rng.integers(1, 10**6, count).astype(np.uint64)),
        "card_number": pa.array(np.char.zfill(rng.integers(0, 10**18, count).astype(str), 19)),
        "barcode": pa.array(np.char.zfill(rng.integers(0, 10**13, count).astype(str), 13)),
        "partner": pa.array(WORDS[rng.integers(0, len(WORDS), count)]),
        "region": pa.array(WORDS[rng.integers(0, len(WORDS), count)]),
        "origin": pa.array(np.where(rng.random(count) < 0.3, "plastic", "virtual")),
        "issued_at": pa.array(base + seconds[0]), "added_at": pa.array(base + seconds[1]),
        "day": pa.array((base + seconds[0]).astype("datetime64[D]")),
        "amount": pa.array(np.round(rng.random(count) * 1000, 2)),
        "points": pa.array(rng.integers(0, 5000, count).astype(np.int32)),
    })


def prepare(url: str, rows: int) -> None:
    from analytics import TableSpec, connect

    with connect(url) as db:
        db.drop_table("bench_rows")
        db.create_table(TableSpec("bench_rows", COLUMNS))
        db.insert("bench_rows", (rows_table(start, min(1_000_000, rows - start)) for start in range(0, rows, 1_000_000)))


def measure(kind: str, url: str, rows: int, folder: Path) -> dict:
    from analytics import connect, load_settings
    from analytics.exports import export

    settings = load_settings(max_result_rows=rows + 1, query_timeout_seconds=3600)
    folder.mkdir(parents=True, exist_ok=True)
    with connect(url, settings) as db:
        db.scalar("SELECT count() FROM bench_rows")  # connected: what the process holds before exporting
        idle_mb = resident_mb()
        started = time.perf_counter()
        sql = SQL + f" LIMIT {int(rows)}"
        if kind in ("ours-xlsx", "ours-csv"):
            result = export(db.iter_chunks(sql), folder, "bench", {}, file_format=kind.split("-")[1])
            path = result.path
        elif kind == "baseline-xlsx":
            path = folder / "baseline.xlsx"
            db.query(sql).to_excel(path, index=False, engine="openpyxl")
        elif kind == "baseline-csv":
            path = folder / "baseline.csv"
            db.query(sql).to_csv(path, index=False)
        elif kind == "clickhouse-csv":
            path = folder / f"clickhouse-{rows}.csv"
            path.unlink(missing_ok=True)  # INTO OUTFILE refuses to overwrite
            parts = str(db.root / "bench_rows" / "part-*.parquet")  # type: ignore[attr-defined]
            structure = ", ".join(f"{name} {kind_}" for name, kind_ in COLUMNS.items())
            session = db._open_session()  # type: ignore[attr-defined]  # the engine the export used, already warm
            session.query(f"SELECT * FROM file('{parts}', Parquet, '{structure}') LIMIT {int(rows)} "
                       f"INTO OUTFILE '{path}' FORMAT CSVWithNames")
        else:
            raise SystemExit(f"unknown measurement {kind}")
        seconds = time.perf_counter() - started
    return {"kind": kind, "rows": rows, "seconds": seconds, "idle_mb": idle_mb,
            "peak_mb": peak_mb(), "size_mb": path.stat().st_size / 2**20}


def peak_mb() -> float:
    """This process's high-water resident memory (VmHWM; ru_maxrss would include the parent's from before exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run_child(kind: str, url: str, rows: int, folder: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--measure", kind, "--url", url, "--rows", str(rows),
                           "--folder", str(folder)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--skip-baseline-xlsx", action="store_true", help="the baseline XLSX takes minutes")
    parser.add_argument("--server", action="store_true",
                        help="also export from a ClickHouse server (Debian's 18.16, started here): no chDB in the process")
    parser.add_argument("--only-server", action="store_true", help="measure only the exports from the server")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url, args.rows, args.folder)))
        return
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        url = f"chdb://{folder / 'store'}"
        if not args.only_server:
            prepare(url, max(args.rows, args.big_rows))
        plan = [("ours-xlsx", args.rows), ("baseline-xlsx", args.rows), ("ours-csv", args.rows),
                ("baseline-csv", args.rows), ("clickhouse-csv", args.rows), ("ours-csv", args.big_rows),
                ("clickhouse-csv", args.big_rows)]
        if args.skip_baseline_xlsx:
            plan.remove(("baseline-xlsx", args.rows))
        plan = [(kind, rows, url) for kind, rows in plan]
        server = None
        if args.server or args.only_server:
            from analytics.testing import ClickHouseServer

            server = ClickHouseServer().start()
            prepare(server.url, args.rows)
            served = [("ours-xlsx", args.rows, server.url), ("ours-csv", args.rows, server.url)]
            plan = served if args.only_server else plan + served
        results = []
        for kind, rows, source in plan:
            repeats = 3 if rows == args.rows and kind != "baseline-xlsx" else 1
            runs = [run_child(kind, source, rows, folder / "out") for _ in range(repeats)]
            for run in runs:
                run["kind"] += "@server" if source != url else ""
            for run in runs:
                print(f"  measured {json.dumps(run)}", file=sys.stderr)
            best = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]  # the median run
            results.append({**best, "peak_mb": max(run["peak_mb"] for run in runs)})
        if server is not None:
            server.stop()
    print(f"{'what':<16} {'rows':>12} {'seconds':>9} {'peak MB':>9} {'idle MB':>9} {'added MB':>9} {'file MB':>9}")
    for r in results:
        print(f"{r['kind']:<16} {r['rows']:>12,} {r['seconds']:>9.2f} {r['peak_mb']:>9.0f} {r['idle_mb']:>9.0f} "
              f"{r['peak_mb'] - r['idle_mb']:>9.0f} {r['size_mb']:>9.0f}")
    print("peak MB: the process's maximum resident memory; idle MB: the same process after loading the engine and "
          "connecting, before the export; added MB: what the export itself took on top (the median run of three).")
    by = {(r["kind"], r["rows"]): r for r in results}
    if ("ours-xlsx", args.rows) not in by:
        return
    if ("baseline-xlsx", args.rows) in by:
        print(f"XLSX: ours is {by['baseline-xlsx', args.rows]['seconds'] / by['ours-xlsx', args.rows]['seconds']:.1f}x "
              "faster than pandas + openpyxl")
    print(f"CSV: ours takes {by['ours-csv', args.rows]['seconds'] / by['clickhouse-csv', args.rows]['seconds']:.2f}x "
          "the time of ClickHouse writing it itself")


if __name__ == "__main__":
    main()
