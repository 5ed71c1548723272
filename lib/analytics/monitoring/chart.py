"""A picture of an episode for the alert: the series, what was expected, and the anomalous stretch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .detector import Episode
from .scan import Scan

SHOWN = {True: 7 * 24, False: 28}  # points on the chart: a week of hours, four weeks of days


def episode_chart(scan: Scan, episode: Episode, folder: Path, name: str) -> Path:
    """``folder/name.png``: observed against the expected range, the episode shaded."""
    import matplotlib  # noqa: PLC0415 - heavy, and only when an alert is raised

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    row = scan.frame.names.index((episode.metric, episode.dimension))
    count = SHOWN[scan.check.settings.season == 168]
    times = scan.frame.times[-count:].astype("datetime64[s]").astype(object)
    values, scores = scan.frame.values[row, -count:], scan.scores
    figure, axes = pyplot.subplots(figsize=(8, 3), dpi=100)
    axes.fill_between(times, scores.low[row, -count:], scores.high[row, -count:], color="#cfe3f5", label="expected range")
    axes.plot(times, scores.expected[row, -count:], color="#5b8db8", linestyle="--", linewidth=1, label="usually")
    axes.plot(times, values, color="#1f1f1f", linewidth=1.4, label="observed")
    shown = scan.frame.times[-count:]
    inside = (shown >= np.datetime64(episode.start)) & (shown <= np.datetime64(episode.end))
    axes.plot(np.array(times)[inside], values[inside], color="#d62728", linewidth=2.2, label="anomaly")
    axes.set_title(f"{episode.metric}: {episode.dimension}" if episode.dimension else episode.metric, fontsize=10)
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    axes.tick_params(labelsize=7)
    figure.autofmt_xdate()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    figure.savefig(target, bbox_inches="tight")
    pyplot.close(figure)
    return target
