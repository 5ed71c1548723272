"""Episodes the 60-day backtest of the events checks lists on the small demo, with the series before their first
row read as 0 (the old pivot) and as unknown (learning), in the same run: how much of the noise was "no history
read as zero".

    .venv/bin/python benchmarks/monitoring_learning.py [--url chdb:///path/to/small/demo]
"""

from __future__ import annotations

import argparse
import datetime as dt
from unittest import mock

import numpy as np

from analytics import connect
from analytics.monitoring import GROUPS, run_checks
from analytics.monitoring import series as series_module

FIRST_TWO_WEEKS = dt.timedelta(days=14)


def zero_filled(pivot):  # type: ignore[no-untyped-def]
    """The pivot as it was: a series is 0 before its first row."""
    def pivot_with_zeros(*args, **kwargs):  # type: ignore[no-untyped-def]
        frame = pivot(*args, **kwargs)
        if frame.kind == "count":
            frame.values[np.isnan(frame.values)] = 0.0
        return frame
    return pivot_with_zeros


def backtest(db, days: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(episodes, of which in the data's first two weeks)."""
    scans = run_checks(db, GROUPS["events"], window=dt.timedelta(days=days))
    start = min(np.datetime64(scan.frame.times[0], "s").astype(dt.datetime) for scan in scans)
    first = db.scalar("SELECT min(event_time) FROM events")
    found = [episode for scan in scans for episode in scan.episodes]
    early = [episode for episode in found if episode.start < max(start, first) + FIRST_TWO_WEEKS]
    return len(found), len(early)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="chdb:///tmp/smalldemo")
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    with connect(args.url, read_only=True) as db:
        with mock.patch.object(series_module, "pivot", zero_filled(series_module.pivot)):
            before = backtest(db, args.days)
        after = backtest(db, args.days)
    print(f"{'events checks, ' + str(args.days) + '-day backtest':<40}{'episodes':>10}{'in the first two weeks':>25}")
    print(f"{'no history read as 0 (before)':<40}{before[0]:>10}{before[1]:>25}")
    print(f"{'no history is learning (now)':<40}{after[0]:>10}{after[1]:>25}")


if __name__ == "__main__":
    main()
