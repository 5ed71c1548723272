"""Monitoring, measured: detector quality on the demo's labelled anomalies, and the speed of a big scan.

1. Quality. The default demo warehouse (180 days, ~5.3M events, labelled anomalies in
   ``demo_anomalies``) and the same warehouse without anomalies are both loaded into embedded
   stores. Every monitoring check (events and errors per hour and per day, scenario conversions,
   product metrics) scans its whole history after a four-week warm-up, exactly as the backtest does.
   An episode is *true* when it overlaps a labelled anomaly (its days, plus one day after) on a
   series that anomaly touches (the event itself, all events, its error codes, its scenario's
   conversions). Reported: recall over labelled anomalies (target ≥ 0.9), precision over episodes
   (≥ 0.8), and false episodes per 10 metric-weeks on the anomaly-free data (≤ 1).
2. Speed. 500 hourly series × 90 days (1.08M points) stored in a table, read with one query and
   scanned by the detector, against the obvious pandas code: per series, a rolling median of the
   same hour of the week over the last four weeks. Target: under 5 s including the query.

Run: ``.venv/bin/python benchmarks/monitoring.py [--seed 42] [--skip-quality] [--skip-speed] [--series 500] [--days 90]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from analytics import connect, load_settings
from analytics.db import TableSpec
from analytics.monitoring import CHECKS, run_check
from analytics.monitoring.detector import DetectorSettings, episodes, score
from analytics.monitoring.series import HOUR, grid, pivot
from analytics.testing.figures import print_rows
from analytics.warehouse import demo

WARM_UP = dt.timedelta(days=28)


def related(anomaly: dict, metric: str, dimension: str) -> bool:
    """Whether an episode on (metric, dimension) is about this labelled anomaly."""
    event = anomaly["event"]
    if metric == "events":
        return dimension in (event, "all")
    if metric == "errors":
        return event == "error"
    if metric == "conversion":
        return event == "scenario_step" and dimension.startswith(anomaly["scenario"] + ":")
    if metric == "product":
        return {"card adds": "card_add", "active users": "app_open", "pushes opened": "push_open"}[dimension] == event
    return False


def overlaps(anomaly: dict, episode) -> bool:
    first = dt.datetime.combine(anomaly["start_date"], dt.time())
    last = dt.datetime.combine(anomaly["end_date"], dt.time()) + dt.timedelta(days=2)
    return episode.start < last and episode.end >= first


def scan_everything(db) -> tuple[list, int, float]:
    """Every check over the whole history: (episodes with their check, series count, weeks scanned)."""
    first = db.scalar("SELECT min(event_time) FROM events")
    latest = db.scalar("SELECT max(event_time) FROM events") + dt.timedelta(seconds=1)
    found, series, weeks = [], 0, 0.0
    for name, check in CHECKS.items():
        window = latest - (first + WARM_UP)
        scan = run_check(db, check, window=window, as_of=latest)
        found += [(name, episode) for episode in scan.episodes]
        series += len(scan.frame)
        weeks = window / dt.timedelta(days=7)
    return found, series, weeks


def quality(scale: str, seed: int) -> list[list[object]]:
    rows = []
    with tempfile.TemporaryDirectory() as labelled_home, tempfile.TemporaryDirectory() as quiet_home:
        for home, anomalies in ((labelled_home, True), (quiet_home, False)):
            settings = load_settings(home=Path(home))
            with connect(settings=settings) as db:
                demo.load(db, scale, seed, anomalies=anomalies)
                found, series, weeks = scan_everything(db)
                truth = db.query_arrow("SELECT * FROM demo_anomalies").to_pylist()
            true = [(name, e) for name, e in found if any(related(a, e.metric, e.dimension) and overlaps(a, e)
                                                        for a in truth)]
            if anomalies:
                caught = [a for a in truth if any(related(a, e.metric, e.dimension) and overlaps(a, e) for _, e in found)]
                recall = len(caught) / len(truth)
                precision = len(true) / len(found) if found else 1.0
                rows.append(["labelled demo", len(truth), len(found), len(true), f"{recall:.2f}", f"{precision:.2f}", ""])
                for name, episode in found:
                    mark = "true " if (name, episode) in true else "FALSE"
                    print(f"  {mark} {name:17} {episode.metric}/{episode.dimension:32} {episode.direction:4} "
                          f"{episode.start:%m-%d %H:%M}..{episode.end:%m-%d %H:%M} obs {episode.observed:9.1f} "
                          f"exp {episode.expected:9.1f} ({episode.change:+.0%})")
            else:
                per_ten = 10 * len(found) / (series * weeks)
                rows.append(["anomaly-free demo", 0, len(found), 0, "", "", f"{per_ten:.3f} ({series} series × "
                             f"{weeks:.1f} weeks)"])
                for name, episode in found:
                    print(f"  FALSE(quiet) {name:17} {episode.metric}/{episode.dimension:32} {episode.direction:4} "
                          f"{episode.start:%m-%d %H:%M}..{episode.end:%m-%d %H:%M} ({episode.change:+.0%})")
    return rows


SERIES_TABLE = TableSpec("bench_series", {"at": "DateTime", "series": "String", "value": "Float64"},
                         order_by=("series", "at"))
SERIES_SQL = "SELECT at, series AS dimension, value FROM bench_series WHERE at >= %(start)s AND at < %(end)s"


def synthetic(series: int, days: int, end: dt.datetime) -> pa.Table:
    rng = np.random.default_rng(7)
    hours = days * 24
    times = grid(end - dt.timedelta(days=days), end, HOUR)
    hour_of_week = (np.arange(hours) + 24 * 3) % 168
    shape = 1 + 0.5 * np.sin(2 * np.pi * hour_of_week / 24) + 0.2 * (hour_of_week // 24 >= 5)
    level = rng.lognormal(4, 1.2, series)[:, None]
    values = rng.poisson(level * shape[None, :]).astype(float)
    names = np.repeat(np.array([f"metric_{i:04d}" for i in range(series)]), hours)
    return pa.table({"at": pa.array(np.tile(times, series)), "series": pa.array(names),
                     "value": pa.array(values.ravel())})


def ours(db, start: dt.datetime, end: dt.datetime) -> tuple[float, float, int]:
    began = time.perf_counter()
    rows = db.query_arrow(SERIES_SQL, {"start": start, "end": end})
    queried = time.perf_counter() - began
    frame = pivot(rows, grid(start, end, HOUR), "bench", HOUR)
    settings = DetectorSettings.hourly()
    found = episodes(score(frame.values, settings), frame.values, frame.times, settings, frame.names)
    return time.perf_counter() - began, queried, len(found)


def naive_pandas(db, start: dt.datetime, end: dt.datetime) -> tuple[float, float, int]:
    """Per series: the median of the same hour of the week over the last four weeks, by pandas rolling."""
    began = time.perf_counter()
    frame = db.query(SERIES_SQL, {"start": start, "end": end})
    queried = time.perf_counter() - began
    alerts = 0
    for _, one in frame.groupby("dimension"):
        values = one.set_index("at")["value"].sort_index()
        by_hour = values.groupby(values.index.day_of_week * 24 + values.index.hour)
        expected = by_hour.transform(lambda s: s.shift(1).rolling(4, min_periods=2).median())
        spread = by_hour.transform(lambda s: (s - s.shift(1).rolling(4, min_periods=2).median()).abs()
                                   .shift(1).rolling(4, min_periods=2).median()) * 1.4826
        band = np.maximum(5 * np.maximum(spread, np.sqrt(expected.clip(lower=1))), 0.25 * expected)
        alerts += int(((values - expected).abs() > band).sum())
    return time.perf_counter() - began, queried, alerts


def speed(series: int, days: int) -> list[list[object]]:
    end = dt.datetime(2026, 11, 16)
    start = end - dt.timedelta(days=days)
    with tempfile.TemporaryDirectory() as home:
        with connect(settings=load_settings(home=Path(home))) as db:
            db.create_table(SERIES_TABLE)
            db.insert(SERIES_TABLE.name, synthetic(series, days, end))
            seconds, queried, found = ours(db, start, end)
            base_seconds, base_queried, base_found = naive_pandas(db, start, end)
    points = series * days * 24
    return [["analytics.monitoring (NumPy matrix)", f"{points:,}", f"{queried:.2f}", f"{seconds:.2f}", found],
            ["pandas rolling per series", f"{points:,}", f"{base_queried:.2f}", f"{base_seconds:.2f}",
             f"{base_found} points"],
            ["speed-up", "", "", f"{base_seconds / seconds:.0f}×", ""]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="default")
    parser.add_argument("--seed", type=int, default=42, help="the demo generator's seed (42 is the shipped demo)")
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    options = parser.parse_args()
    if not options.skip_quality:
        print_rows(["data", "labelled anomalies", "episodes", "true episodes", "recall", "precision",
                     "false per 10 metric-weeks"], quality(options.scale, options.seed))
    if not options.skip_speed:
        print_rows(["scan", "points", "query s", "total s", "episodes"], speed(options.series, options.days))


if __name__ == "__main__":
    main()
