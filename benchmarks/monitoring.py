"""Monitoring, measured: detector quality on labelled hard series, and the speed of a big scan.

1. Quality. ``analytics.monitoring.labelled`` draws 24 hourly product metrics (12 counts from 20 to 5,000
   events an hour with over-dispersion, 7 conversions with their denominators, 5 levels such as an average
   price) over ``--weeks`` weeks: drifting daily and weekly shapes, growth, two holidays (-40%, +30%), missing
   hours, late data in the newest hours, and a dozen labelled incidents after a four-week warm-up (a level
   shift, a slow drift, spikes, drops to zero, drops, conversion falls, level jumps). Its anomaly-free twin is
   the same draw without the incidents (holidays, gaps and late data kept: what they cost shows there).
   Three detectors read every series, and only their alarms after the warm-up count:

   - the shipped defaults: the hourly check (``DetectorSettings.hourly``) and the daily check on daily
     aggregates (``DetectorSettings.daily``: sums for counts, sum of conversions over sum of the denominator
     for ratios, means for levels), all episodes of a run turned into messages by
     ``analytics.monitoring.alerting.messages``, the way the product groups them;
   - a rolling z-score: the mean and standard deviation of the previous week of hours, |z| > 3;
   - a seasonal median: the same hour of the week over the previous four weeks, more than three robust
     standard deviations (MAD, floored) and 20% away.

   For the baselines, flags in one direction at most one hour apart are one message of one series. An alarm is
   *about* a label when it is on the label's series, moves the same way, and overlaps the label's hours plus one
   day (a persisting shift or drift is labelled until two weeks after it is complete). Reported per detector:
   recall (labels with at least one message about them; target ≥ 0.8), precision (messages about some label),
   false alarm points per 1,000 normal points (hourly points of alarms about no label; a daily point counts as
   24, per judged non-missing hour outside the labels' windows), messages per caught incident (target ≤ 1.2),
   and on the twin, false messages per 10 metric-weeks (target ≤ 1). A row per label shows, for the shipped
   detector, what it caught, with how many messages, and how late (when the first alarm could be known: a
   daily point at its day's end). The shipped messages are listed under the table, true or false, so a tuner
   sees what each one was; then the same figures pooled over ``--pooled`` seeds, with the shipped recall per
   incident kind, because one draw's twelve incidents are too few to tune on.

   ``--demo-quality`` also measures the older, easier benchmark: the demo warehouse's labelled anomalies
   (``--scale``, ``--seed``) and the same warehouse without anomalies, every monitoring check scanned after a
   four-week warm-up, exactly as the backtest does (slow: it loads two demo warehouses).
2. Speed. 500 hourly series × 90 days (1.08M points) stored in a table, read with one query and
   scanned by the detector, against the obvious pandas code: per series, a rolling median of the
   same hour of the week over the last four weeks. Target: under 5 s including the query.

Run: ``.venv/bin/python benchmarks/monitoring.py [--weeks 10] [--labelled-seed 7] [--pooled 5] [--skip-quality]
[--skip-speed] [--series 500] [--days 90] [--demo-quality [--scale default] [--seed 42]]``. The quality part takes
about a second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from analytics import connect, load_settings
from analytics.db import TableSpec
from analytics.monitoring import CHECKS, run_check
from analytics.monitoring.alerting import messages
from analytics.monitoring.detector import DetectorSettings, Episode, episodes, find_episodes, score
from analytics.monitoring.labelled import HOURS_PER_WEEK, WARM_UP_WEEKS, Label, LabelledSeries, holidays, labelled_set
from analytics.monitoring.series import HOUR, grid, pivot
from analytics.testing.figures import print_rows
from analytics.warehouse import demo

DAY = dt.timedelta(days=1)
TOLERANCE = dt.timedelta(days=1)  # an alarm up to a day after a label's end is still about it
JUDGED_FROM = WARM_UP_WEEKS * HOURS_PER_WEEK  # the first judged hour: four weeks of baseline before it


@dataclass(frozen=True)
class Alarm:
    """One series' part of a message: its hours [start, end), how many points it flagged (in hours), what, and
    when it could first be said (a daily point is known at the day's end, an hourly episode at its second hour)."""

    series: str
    direction: str  # "rise" or "fall"
    start: dt.datetime
    end: dt.datetime
    points: float
    what: str
    known: dt.datetime


Message = list[Alarm]


def about(alarm: Alarm, label: Label) -> bool:
    return (alarm.series == label.series and alarm.direction == label.direction
            and alarm.start < label.end + TOLERANCE and alarm.end > label.start)


def daily(times: np.ndarray, one: LabelledSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Midnights, the daily values (counts summed, conversions over their denominator, levels averaged; NaN for
    a day with no known hour) and a ratio's daily denominator."""
    days = times[::24]
    values = one.values.reshape(-1, 24)
    known = (~np.isnan(values)).any(axis=1)
    if one.kind == "ratio":
        assert one.volume is not None
        volume = np.nansum(one.volume.reshape(-1, 24), axis=1)
        converted = np.nansum((one.values * one.volume).reshape(-1, 24), axis=1)
        return days, np.where(known & (volume > 0), converted / np.maximum(volume, 1), np.nan), volume
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a day of nothing but missing hours is NaN
        total = np.nanmean(values, axis=1) if one.kind == "level" else np.nansum(values, axis=1)
    return days, np.where(known, total, np.nan), None


def shipped(times: np.ndarray, series: list[LabelledSeries]) -> list[Message]:
    """The shipped defaults as a job runs them: the hourly and the daily check of every series, episodes touching
    the judged weeks, one message per incident (``alerting.messages``)."""
    judged_from = times[JUDGED_FROM].astype("datetime64[s]").astype(dt.datetime)
    found: list[Episode] = []
    step_of: dict[int, dt.timedelta] = {}
    for one in series:
        kind = one.kind  # count, ratio or level: the check declares the kind of series it watches
        days, day_values, day_volume = daily(times, one)
        for step, settings, at, values, volume in (
                (HOUR, DetectorSettings.hourly(kind=kind), times, one.values, one.volume),
                (DAY, DetectorSettings.daily(kind=kind), days, day_values, day_volume)):
            for episode in find_episodes(at, values, settings=settings, volume=volume, metric="labelled",
                                         dimension=one.name):
                if episode.end + step > judged_from:
                    found.append(episode)
                    step_of[id(episode)] = step
    return [[alarm(episode, step_of[id(episode)]) for episode in message] for message in messages(found)]


def alarm(episode: Episode, step: dt.timedelta) -> Alarm:
    settings = DetectorSettings.daily() if step == DAY else DetectorSettings.hourly()
    return Alarm(episode.dimension, episode.direction, episode.start, episode.end + step, episode.points * (step / HOUR),
                 f"{episode.direction} {episode.change:+.0%} per {'day' if step == DAY else 'hour'}"
                 f"{' settled' if episode.settled else ''}", episode.start + step * settings.min_points)


def rolling_z(one: LabelledSeries) -> np.ndarray:
    """+1 or -1 where |z| > 3 against the mean and standard deviation of the previous 168 hours (half of them known at least)."""
    values = pd.Series(one.values)
    window = values.rolling(HOURS_PER_WEEK, min_periods=HOURS_PER_WEEK // 2)
    mean, std = window.mean().shift(1).to_numpy(), window.std().shift(1).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (one.values - mean) / std
    return np.where(z > 3, 1, np.where(z < -3, -1, 0))


def seasonal_median(one: LabelledSeries) -> np.ndarray:
    """+1 or -1 where more than 3 robust standard deviations and 20% away from the median of the same hour of the week over the
    previous four weeks. The spread is floored (a count's Poisson noise, a conversion's binomial noise, 1% of a
    level), or four nearly equal values would make every hour anomalous."""
    history = np.full((4, one.values.size), np.nan)
    for week in range(1, 5):
        history[week - 1, week * HOURS_PER_WEEK:] = one.values[:-week * HOURS_PER_WEEK]
    enough = np.sum(~np.isnan(history), axis=0) >= 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (the first weeks) are not judged
        median = np.nanmedian(history, axis=0)
        mad = np.nanmedian(np.abs(history - median), axis=0)
    if one.kind == "ratio":
        assert one.volume is not None
        floor = np.sqrt(np.clip(median * (1 - median), 1e-12, None) / np.maximum(np.nan_to_num(one.volume), 1))
    elif one.kind == "level":
        floor = 0.01 * np.abs(median)
    else:
        floor = np.sqrt(np.maximum(median, 1))
    distance = np.abs(one.values - median)
    with np.errstate(invalid="ignore"):
        far = enough & (distance > 3 * np.maximum(1.4826 * mad, floor)) & (distance > 0.2 * np.abs(median))
        return np.where(far, np.sign(one.values - median), 0)


def baseline(flags_of: Callable[[LabelledSeries], np.ndarray], times: np.ndarray,
             series: list[LabelledSeries]) -> list[Message]:
    """One message per run of judged hours flagged in one direction on one series, at most one quiet hour inside."""
    sent = []
    moments = times.astype("datetime64[s]").astype(dt.datetime)
    for one in series:
        flags = flags_of(one)
        for direction, sign in (("rise", 1), ("fall", -1)):
            flagged = np.flatnonzero(flags == sign)
            flagged = flagged[flagged >= JUDGED_FROM]
            for run in np.split(flagged, np.flatnonzero(np.diff(flagged) > 2) + 1) if flagged.size else []:
                sent.append([Alarm(one.name, direction, moments[run[0]], moments[run[-1]] + HOUR, float(run.size),
                                   "", moments[run[0]] + HOUR)])
    return sorted(sent, key=lambda message: message[0].start)


@dataclass(frozen=True)
class Tally:
    """What one detector did on one set, as counts, so several seeds add up before the ratios are taken."""

    labels: int = 0
    caught: int = 0
    sent: int = 0
    true: int = 0  # messages about some label
    false_points: float = 0.0  # hourly points of alarms about no label
    normal_points: int = 0
    metric_weeks: float = 0.0

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__))

    def row(self, twin: Tally) -> list[object]:
        def share(part: float, whole: float) -> str:
            return f"{part / whole:.2f}" if whole else "-"
        return [self.sent, self.true, share(self.caught, self.labels), share(self.true, self.sent),
                share(1000 * self.false_points, self.normal_points), share(self.true, self.caught), twin.sent,
                share(10 * twin.sent, twin.metric_weeks), share(1000 * twin.false_points, twin.normal_points)]


def judge(sent: list[Message], times: np.ndarray, series: list[LabelledSeries]) -> Tally:
    labels = [label for one in series for label in one.labels]
    true = [message for message in sent if any(about(alarm, label) for alarm in message for label in labels)]
    caught = [label for label in labels if any(about(alarm, label) for message in sent for alarm in message)]
    false_points = sum(alarm.points for message in sent for alarm in message
                       if not any(about(alarm, label) for label in labels))
    return Tally(len(labels), len(caught), len(sent), len(true), false_points, normal_points(times, series),
                 len(series) * (times.size - JUDGED_FROM) / HOURS_PER_WEEK)


def normal_points(times: np.ndarray, series: list[LabelledSeries]) -> int:
    """Judged hours with a value, outside every label's window (plus its day of tolerance) on their series."""
    total = 0
    for one in series:
        normal = ~np.isnan(one.values)
        normal[:JUDGED_FROM] = False
        for label in one.labels:
            normal &= (times < np.datetime64(label.start, "s")) | (times >= np.datetime64(label.end + TOLERANCE, "s"))
        total += int(normal.sum())
    return total


DETECTORS: dict[str, Callable[[np.ndarray, list[LabelledSeries]], list[Message]]] = {
    "shipped defaults (hourly + daily, messages)": shipped,
    "rolling z-score (168 h, |z| > 3)": lambda times, series: baseline(rolling_z, times, series),
    "seasonal median (4 weeks, 3 MAD and 20%)": lambda times, series: baseline(seasonal_median, times, series),
}


HEADERS = ["detector / label", "messages", "true", "recall", "precision", "false pts /1000 normal",
           "messages /incident", "twin messages", "twin false /10 metric-weeks", "twin false pts /1000"]


def run_detectors(weeks: int, seed: int) -> tuple[np.ndarray, list[LabelledSeries], dict[str, tuple[Tally, Tally]],
                                                  list[Message], list[Message]]:
    """Every detector on one draw and its twin: the tallies per detector, and the shipped messages on both."""
    times, series = labelled_set(seed, weeks)
    _, twin = labelled_set(seed, weeks, incidents=False)
    tallies, listed = {}, ([], [])
    for name, detector in DETECTORS.items():
        sent, quiet = detector(times, series), detector(times, twin)
        tallies[name] = (judge(sent, times, series), judge(quiet, times, twin))
        if detector is shipped:
            listed = (sent, quiet)
    return times, series, tallies, *listed


def quality(weeks: int, seed: int, pooled: int) -> None:
    """The table for one draw (a row per detector, a row per label for the shipped detector), the shipped messages,
    and the same figures pooled over ``pooled`` draws (a tuner who looks at one draw only fits its noise)."""
    began = time.perf_counter()
    times, series, tallies, sent, quiet = run_detectors(weeks, seed)
    rows: list[list[object]] = [[name, *tally.row(calm), ""] for name, (tally, calm) in tallies.items()]
    labels = sorted((label for one in series for label in one.labels), key=lambda label: label.start)
    for label in labels:
        touching = [message for message in sent if any(about(alarm, label) for alarm in message)]
        first = min((alarm.known for message in touching for alarm in message if about(alarm, label)), default=None)
        when = "" if first is None else f"{first:%m-%d %H:%M} ({(first - label.start) / HOUR:+.0f} h)"
        rows.append([f"  shipped: {label.kind} {label.series} {label.start:%a %m-%d %H:%M}, {label.description}",
                     len(touching), "", "caught" if touching else "MISSED", "", "", "", "", "", "", when])
    kinds = ", ".join(f"{sum(one.kind == kind for one in series)} {kind}s" for kind in ("count", "ratio", "level"))
    print(f"Labelled set: seed {seed}, {weeks} weeks ({weeks - WARM_UP_WEEKS} judged after a {WARM_UP_WEEKS}-week "
          f"warm-up), {len(series)} series ({kinds}), {len(labels)} labelled incidents; holidays "
          f"{', '.join(f'{day:%a %m-%d}' for day in holidays(seed, weeks))}")
    print_rows([*HEADERS, "first known (delay)"], rows)
    for data, found in (("labelled", sent), ("twin", quiet)):
        print(f"Shipped messages on the {data} set:")
        for message in found:
            true = data == "labelled" and any(about(alarm, label) for alarm in message for label in labels)
            parts = "; ".join(f"{alarm.series} {alarm.what} {alarm.start:%m-%d %H:%M}..{alarm.end:%m-%d %H:%M}"
                              for alarm in message)
            print(f"  {'true ' if true else 'FALSE'} {message[0].start:%a %m-%d %H:%M}  {parts}")
    if pooled > 1:
        seeds = range(seed, seed + pooled)
        total = {name: (Tally(), Tally()) for name in DETECTORS}
        by_kind: dict[str, list[int]] = {}  # incident kind: labels, caught, messages about them (shipped)
        for other in seeds:
            times, series, tallies, sent, _ = run_detectors(weeks, other)
            total = {name: (total[name][0] + tally, total[name][1] + calm) for name, (tally, calm) in tallies.items()}
            for label in (label for one in series for label in one.labels):
                touching = sum(any(about(alarm, label) for alarm in message) for message in sent)
                counts = by_kind.setdefault(label.kind, [0, 0, 0])
                counts[0], counts[1], counts[2] = counts[0] + 1, counts[1] + bool(touching), counts[2] + touching
        print(f"Pooled over seeds {seeds.start}..{seeds.stop - 1}:")
        rows = [[name, *tally.row(calm)] for name, (tally, calm) in total.items()]
        rows += [[f"  shipped: {kind}", messages_about, "", f"{caught / count:.2f} ({caught}/{count})", "", "",
                  f"{messages_about / caught:.2f}" if caught else "-", "", "", ""]
                 for kind, (count, caught, messages_about) in by_kind.items()]
        print_rows(HEADERS, rows)
    print(f"Quality: {time.perf_counter() - began:.1f} s")


WARM_UP = dt.timedelta(days=28)  # the demo benchmark's warm-up


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


def demo_quality(scale: str, seed: int) -> list[list[object]]:
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
    parser.add_argument("--weeks", type=int, default=10, help="weeks of the labelled set (four of them warm-up)")
    parser.add_argument("--labelled-seed", type=int, default=7, help="the labelled set's seed")
    parser.add_argument("--pooled", type=int, default=5,
                        help="also the figures pooled over this many seeds from --labelled-seed on (1: none)")
    parser.add_argument("--demo-quality", action="store_true", help="also the older benchmark on the demo warehouse")
    parser.add_argument("--scale", default="default", help="the demo warehouse's scale (with --demo-quality)")
    parser.add_argument("--seed", type=int, default=42,
                        help="the demo generator's seed (42 is the shipped demo; with --demo-quality)")
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    options = parser.parse_args()
    if not options.skip_quality:
        quality(options.weeks, options.labelled_seed, options.pooled)
        if options.demo_quality:
            print_rows(["data", "labelled anomalies", "episodes", "true episodes", "recall", "precision",
                        "false per 10 metric-weeks"], demo_quality(options.scale, options.seed))
    if not options.skip_speed:
        print_rows(["scan", "points", "query s", "total s", "episodes"], speed(options.series, options.days))


if __name__ == "__main__":
    main()
