"""The A/B summary on one million assigned users: from Run to the rendered report, against pandas.

A synthetic experiment (1,000,000 users split 50/50, assigned over two weeks; ~12 events per user
in the window and the 14-day pre-period, with skewed activity and a true +5% effect on app opens)
is written to a fresh embedded store. Measured, in this one process:

1. **Ours**: the form's Run as the pipeline does it (validate, the report's two queries, the
   statistics with CUPED, both charts, the XLSX with its summary, per-metric and 1M-row per-user
   sheets) and the page's HTML. Run twice: the first pays matplotlib's import, as a fresh kernel does.
   The page shows the report as soon as its rows are read; the XLSX (a 1M-row sheet) follows, timed too.
2. **pandas**: the same per-user metrics (events after assignment, first day, pre-period events for
   each metric) from the raw events read into pandas, joined to the assignments and grouped by user.
   The per-user numbers of both must be equal, or the benchmark stops.

Run: ``.venv/bin/python benchmarks/ab_summary.py [--users 1000000] [--events-per-user 12]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics import connect, load_settings
from analytics.experiments.metrics import BASELINE, Window, per_user, target_metric
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.render import outcome_html
from analytics.reports import ab_summary
from analytics.testing.figures import print_rows
from analytics.testing.runs import run_context
from analytics.warehouse.schema import WAREHOUSE

REPO = Path(__file__).resolve().parents[1]
START, DAYS, PRE_DAYS = dt.date(2026, 9, 1), 28, 14
EVENTS = ["app_open", "card_issue", "unsubscribe", "support_request", "promo_action", "card_show"]
SHARES = np.array([0.45, 0.05, 0.01, 0.01, 0.08, 0.40])


def build(path: Path, users: int, per_user_events: int, rng: np.random.Generator) -> int:
    """The experiment's assignments and events in a fresh store; returns the number of events."""
    ids = np.arange(5_000_001, 5_000_001 + users, dtype=np.uint64)
    test = rng.random(users) < 0.5
    start = np.datetime64(START.isoformat(), "s")
    assigned = start + rng.integers(0, 14 * 86_400, users).astype("timedelta64[s]")
    activity = rng.lognormal(0, 1.0, users)
    counts = rng.poisson(per_user_events * activity / activity.mean())
    owner = np.repeat(np.arange(users), counts)
    span = (DAYS + PRE_DAYS) * 86_400
    when = start - np.timedelta64(PRE_DAYS * 86_400, "s") + rng.integers(0, span, owner.size).astype("timedelta64[s]")
    event = rng.choice(len(EVENTS), owner.size, p=SHARES / SHARES.sum())
    lifted = test[owner] & (when >= assigned[owner]) & (event == 0) & (rng.random(owner.size) < 0.05)
    owner, when, event = (np.concatenate([column, column[lifted]]) for column in (owner, when, event))
    with connect(f"chdb://{path}") as db:
        db.create_table(WAREHOUSE["experiment_assignments"])
        db.insert("experiment_assignments", pa.table({
            "experiment": pa.array(["bench"] * users), "user_id": pa.array(ids),
            "variant": pa.array(np.where(test, "test", "control")), "assigned_at": pa.array(assigned)}))
        db.create_table(WAREHOUSE["events"])
        n = owner.size
        db.insert("events", pa.table({
            "event_time": pa.array(when), "event_date": pa.array(when.astype("datetime64[D]")),
            "user_id": pa.array(ids[owner]), "event": pa.array(np.array(EVENTS)[event]),
            "partner_id": pa.array(np.zeros(n, np.uint32)), "scenario": pa.array([""] * n),
            "step": pa.array(np.zeros(n, np.uint8)), "error_code": pa.array([""] * n),
            "platform": pa.array(["ios"] * n), "app_version": pa.array(["5.1.0"] * n)}))
    return int(owner.size)


def run_ours(url: str, home: Path) -> tuple[float, float, str]:
    """Seconds from Run (the form's values) to the rendered page, and to the files written, as the form runs it.

    The form shows the outcome as soon as the rows are read (``first_look``) and adds the download links
    when the files are written; both moments are measured.
    """
    settings = load_settings(db_url=url, home=home)
    parameters = declaration(REPO / "notebooks" / "analysts" / "ab_summary.ipynb")
    given = {"experiment": "bench", "start": START.isoformat(), "end": (START + dt.timedelta(days=DAYS - 1)).isoformat(),
             "target_event": "promo_action", "cuped": True}
    shown: list[float] = []
    began = time.perf_counter()
    with connect(url, settings=settings) as db:
        outcome = run_report(ab_summary, parameters, given, run_context(db, settings),
                             first_look=lambda first: (outcome_html(first), shown.append(time.perf_counter() - began)))
    page = outcome_html(outcome)
    return shown[0], time.perf_counter() - began, page


def run_pandas(url: str) -> tuple[float, pd.DataFrame]:
    """The same per-user metrics from raw events in pandas."""
    window = Window("bench", START, START + dt.timedelta(days=DAYS - 1), PRE_DAYS)
    metrics = BASELINE + (target_metric("promo_action"),)
    began = time.perf_counter()
    with connect(url) as db:
        assignments = _frame(db, "SELECT user_id, variant, assigned_at FROM experiment_assignments"
                                 " WHERE experiment = 'bench'")
        events = _frame(db, "SELECT user_id, event, event_time, event_date FROM events WHERE event_date >= %(a)s"
                        " AND event_date <= %(b)s", {"a": window.params["pre_start"], "b": window.end})
    joined = events.merge(assignments, on="user_id")
    since = joined["assigned_at"].clip(lower=pd.Timestamp(window.start))
    after = joined["event_time"] >= since
    before = joined["event_time"] < joined["assigned_at"].clip(upper=pd.Timestamp(window.start))
    result = assignments.set_index("user_id")[["variant"]].copy()
    for index, metric in enumerate(metrics):
        is_event = joined["event"] == metric.event
        grouped = joined[is_event & after].groupby("user_id")
        result[f"n{index}"] = grouped.size()
        result[f"f{index}"] = grouped["event_date"].min()
        result[f"b{index}"] = joined[is_event & before].groupby("user_id").size()
    result = result.fillna({f"n{i}": 0 for i in range(len(metrics))} | {f"b{i}": 0 for i in range(len(metrics))})
    return time.perf_counter() - began, result.sort_index()


def _frame(db, sql: str, params: dict | None = None) -> pd.DataFrame:  # noqa: ANN001
    """All rows as a DataFrame (streamed: past the row limit of a page)."""
    return pa.concat_tables(list(db.iter_chunks(sql, params))).to_pandas()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events-per-user", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "store"
        began = time.perf_counter()
        events = build(store, args.users, args.events_per_user, np.random.default_rng(7))
        print(f"built {args.users:,} assigned users and {events:,} events in {time.perf_counter() - began:.1f} s\n")
        url = f"chdb://{store}"
        first, first_done, page = run_ours(url, Path(folder) / "home")
        second, second_done, _ = run_ours(url, Path(folder) / "home")
        assert "Sample ratio" in page and page.count("data:image/png") == 2
        with connect(url) as db:
            began = time.perf_counter()
            metrics = BASELINE + (target_metric("promo_action"),)
            ours_users = per_user(db, Window("bench", START, START + dt.timedelta(days=DAYS - 1), PRE_DAYS), metrics)
            query_seconds = time.perf_counter() - began
        pandas_seconds, theirs = run_pandas(url)
        ours_frame = ours_users.to_pandas().set_index("user_id").sort_index()
        for column in [f"n{i}" for i in range(len(metrics))] + [f"b{i}" for i in range(len(metrics))]:
            assert (ours_frame[column].to_numpy() == theirs[column].to_numpy()).all(), column
        print_rows(["what", "seconds"], [
            ["ours: Run → rendered report (first run, matplotlib imported)", f"{first:.2f}"],
            ["ours: Run → rendered report (second run)", f"{second:.2f}"],
            ["ours: Run → the XLSX written too (first run, second run)", f"{first_done:.2f}, {second_done:.2f}"],
            ["ours: the per-user metrics query alone", f"{query_seconds:.2f}"],
            ["pandas: the same per-user metrics from raw events", f"{pandas_seconds:.2f}"],
            ["pandas ÷ our per-user query", f"{pandas_seconds / query_seconds:.1f}×"],
        ])


if __name__ == "__main__":
    main()
