"""Audiences, measured: a 1,000,000-user cohort end to end, and the split alone against pandas ``apply()``.

1. A cohort of 1,000,000 Amplitude IDs (plus unknown IDs and duplicates, as real exports have) served by the
   fake Amplitude (request → "not ready" twice → file), through the push audience report exactly as the
   form runs it: download, cleaning, filters (pushes allowed, age 18–60, two operating systems), frequency
   cap (7 days, against 500,000 recent push deliveries), global hold-out, split, the keyed save, and the
   files (target and control as XLSX and CSV, the left-out list as CSV). Run in a fresh process, whose
   peak memory (max RSS, imports included) is reported. Targets: under 15 s and under 1 GB.
2. The control split of 10,000,000 user IDs: ``analytics.audiences.buckets`` (vectorized NumPy) against
   the obvious pandas code, ``Series.apply`` of the same hash per ID (the plain-Python reference
   ``bucket_of``). Target: at least 20× faster.

Run: ``.venv/bin/python benchmarks/audiences.py [--cohort 1000000] [--split 10000000] [--server]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics import Database, connect, load_settings
from analytics.audiences.buckets import bucket_of, buckets, salt_for
from analytics.testing import ClickHouseServer
from analytics.testing.fakes import FakeAmplitude, cohort_csv
from analytics.testing.figures import print_table
from analytics.warehouse import WAREHOUSE
from analytics.warehouse.demo import SCALES, _Generator

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "marketing" / "push_audience.ipynb"
CHILD = """
import json, resource, sys, time
from analytics import connect, load_settings
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.reports import push_audience

notebook, given = sys.argv[1], json.loads(sys.argv[2])
settings = load_settings()
started = time.perf_counter()
with connect(settings=settings) as db:
    outcome = run_report(push_audience, declaration(notebook), given, run_context(db, settings))
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "target": outcome.rows, "files": {f.path.name: f.path.stat().st_size for f in outcome.files},
                  "steps": outcome.query.funnel}))
"""


def load_warehouse(db: Database, users: int) -> np.ndarray:
    """A users table of ``users`` people and 500,000 push deliveries of the last 3 days; returns Amplitude IDs."""
    scale = SCALES["default"].__class__(**{**SCALES["default"].__dict__, "users": users})
    people = _Generator(scale, np.random.default_rng(5), dt.date.today()).users()
    for name in ("users", "push_deliveries"):
        db.drop_table(name)
        db.create_table(WAREHOUSE[name])
    db.insert("users", people)
    rng = np.random.default_rng(6)
    sent = np.datetime64(dt.datetime.now(dt.UTC).replace(tzinfo=None), "s") - rng.integers(0, 3 * 86_400, 500_000).astype(
        "timedelta64[s]")
    db.insert("push_deliveries", pa.table({
        "push_id": pa.array(np.full(500_000, 1, np.uint64)),
        "user_id": pa.array(rng.choice(people.column("user_id").to_numpy(), 500_000, replace=False)),
        "sent_at": pa.array(sent), "delivered_at": pa.array(sent), "opened_at": pa.nulls(500_000, pa.timestamp("s"))}))
    return people.column("amplitude_id").to_numpy()


def cohort_file(amplitude_ids: np.ndarray, size: int) -> bytes:
    rng = np.random.default_rng(7)
    members = rng.choice(amplitude_ids, size, replace=False)
    extra = np.concatenate([members[: size // 100], np.arange(1, size // 100 + 1, dtype=np.uint64)])  # dupes, unknowns
    return cohort_csv(np.concatenate([members, extra]))


def end_to_end(label: str, url: str, size: int, rows: list[tuple[str, str, str]]) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-audience-"))
    with connect(url) as db:
        amplitude_ids = load_warehouse(db, int(size * 1.2))
    with FakeAmplitude(polls_before_ready=2) as fake:
        fake.cohorts["bench1"] = cohort_file(amplitude_ids, size)
        given = {"cohort_id": "bench1", "sub_id": f"bench_{time.time_ns()}", "save": True, "age_from": 18, "age_to": 60,
                 "os": ["Android", "iOS"], "push_enabled": True, "cap_days": 7, "control_percent": 10}
        environment = {**os.environ, **load_settings(db_url=url, home=home, **fake.overrides()).environment(),
                       "ANALYTICS_AMPLITUDE_POLL_SECONDS": "0.5", "PYTHONPATH": str(REPO / "lib")}
        done = subprocess.run([sys.executable, "-c", CHILD, str(NOTEBOOK), json.dumps(given)], env=environment,
                              capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"The end-to-end run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cohort_rows = result["steps"][0][1]
    rows.append((f"{cohort_rows:,}-row cohort → saved audience and 5 files, end to end (target < 15 s)", label,
                 f"{result['seconds']:.1f} s"))
    rows.append(("  peak memory of that process, imports included (target < 1 GB)", label, f"{result['peak_mb']:,.0f} MB"))
    rows.append(("  target group written", label, f"{result['target']:,} people"))


def split_against_apply(size: int, rows: list[tuple[str, str, str]]) -> None:
    ids = np.arange(1_000_001, 1_000_001 + size, dtype=np.uint64)
    salt = salt_for("bench")
    started = time.perf_counter()
    vectorized = buckets(ids, salt) < 1000
    fast = time.perf_counter() - started
    started = time.perf_counter()
    naive = pd.Series(ids).apply(lambda user: bucket_of(int(user), salt) < 1000).to_numpy()
    slow = time.perf_counter() - started
    assert np.array_equal(vectorized, naive)
    rows.append((f"split of {size:,} IDs, vectorized (analytics.audiences.buckets)", "NumPy", f"{fast:.2f} s"))
    rows.append((f"split of {size:,} IDs, pandas Series.apply of the same hash", "pandas", f"{slow:.1f} s"))
    rows.append(("  speed-up (target ≥ 20×)", "", f"{slow / fast:,.0f}×"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=int, default=1_000_000)
    parser.add_argument("--split", type=int, default=10_000_000)
    parser.add_argument("--server", action="store_true", help="also run end to end on a ClickHouse 18.16 server")
    arguments = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    end_to_end("embedded", f"chdb://{tempfile.mkdtemp(prefix='bench-store-')}", arguments.cohort, rows)
    if arguments.server:
        with ClickHouseServer() as server:
            end_to_end("server 18.16", server.url, arguments.cohort, rows)
    split_against_apply(arguments.split, rows)
    print_table(rows, "figure")


if __name__ == "__main__":
    main()
