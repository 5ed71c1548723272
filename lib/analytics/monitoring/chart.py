"""A picture of an episode: the series, what was expected, and the anomalous stretch.

The alert attaches it as a file (:func:`episode_chart`); the monitoring page shows the same picture inline
(:func:`episode_png`), so what on-call sees in Slack and on the page is one drawing. Its axes speak the
pages' language through :mod:`analytics.charts` (dd.mm days, 12,345 counts, never e-notation).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..charts import number, png
from .detector import Episode
from .scan import Scan

SHOWN = {True: 7 * 24, False: 28}  # points on the chart: a week of hours, four weeks of days


def episode_chart(scan: Scan, episode: Episode, folder: Path, name: str) -> Path:
    """``folder/name.png``: observed against the expected range, the episode shaded."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    target.write_bytes(episode_png(scan, episode))
    return target


def episode_title(episode: Episode) -> str:
    return f"{episode.metric}: {episode.dimension}" if episode.dimension else episode.metric


def episode_png(scan: Scan, episode: Episode) -> bytes:
    """The episode's picture as PNG bytes: observed, the usual value and its expected range, the anomaly in red."""
    import matplotlib  # noqa: PLC0415 - heavy, and only when an episode is drawn

    matplotlib.use("Agg")
    from matplotlib import dates as mdates  # noqa: PLC0415
    from matplotlib import pyplot  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    row = scan.frame.names.index((episode.metric, episode.dimension))
    hourly = scan.check.settings.season == 168
    count = SHOWN[hourly]
    times = scan.frame.times[-count:].astype("datetime64[s]").astype(object)
    values, scores = scan.frame.values[row, -count:], scan.scores
    figure, axes = pyplot.subplots(figsize=(8, 3), dpi=100)
    axes.fill_between(times, scores.low[row, -count:], scores.high[row, -count:], color="#cfe3f5", label="expected range")
    axes.plot(times, scores.expected[row, -count:], color="#5b8db8", linestyle="--", linewidth=1, label="usually")
    axes.plot(times, values, color="#1f1f1f", linewidth=1.4, label="observed")
    shown = scan.frame.times[-count:]
    inside = (shown >= np.datetime64(episode.start)) & (shown <= np.datetime64(episode.end))
    axes.plot(np.array(times)[inside], values[inside], color="#d62728", linewidth=2.2, label="anomaly")
    axes.set_title(episode_title(episode), fontsize=10, loc="left")
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    axes.tick_params(labelsize=7)
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m %H:%M" if hourly else "%d.%m"))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: number(value)))
    figure.autofmt_xdate()
    figure.tight_layout()
    return png(figure)
