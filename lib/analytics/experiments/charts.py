"""The A/B summary's two pictures: each metric's relative effect with its interval, and the lift day by day."""

from __future__ import annotations

import io

import numpy as np

from .summary import BETTER, WORSE, Summary

COLOURS = {BETTER: "#2e7d32", WORSE: "#c62828"}


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib  # noqa: PLC0415 - heavy; only when a summary is drawn

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    return pyplot


def _percent_ticks():  # noqa: ANN202 - a matplotlib formatter
    """Ticks already in percent, as +5% and −2.5% (no offset or e-notation above the axis)."""
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    from ..charts import number  # noqa: PLC0415

    return FuncFormatter(lambda value, _: ("+" if value > 0 else "") + number(value).replace("-", "\u2212") + "%")


def _png(figure) -> bytes:  # noqa: ANN001
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def interval_chart(summary: Summary) -> bytes:
    """Relative effect of every metric with its 95% interval; green better, red worse, grey no verdict."""
    pyplot = _pyplot()
    results = [result for result in summary.results if np.isfinite(result.comparison.relative)]
    figure, axes = pyplot.subplots(figsize=(7, 0.6 * len(results) + 1.2), dpi=100)
    for row, result in enumerate(reversed(results)):
        c = result.comparison
        colour = COLOURS.get(result.verdict, "#757575")
        axes.errorbar(100 * c.relative, row, xerr=[[100 * (c.relative - c.relative_low)], [100 * (c.relative_high - c.relative)]],
                      fmt="o", color=colour, capsize=4)
    axes.axvline(0, color="#444", linewidth=0.8)
    axes.set_yticks(range(len(results)), [result.metric.label for result in reversed(results)])
    axes.set_xlabel("Test against control, % (95% interval)")
    axes.xaxis.set_major_formatter(_percent_ticks())
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def lift_chart(days: np.ndarray, lifts: dict[str, np.ndarray], labels: dict[str, str]) -> bytes:
    """Cumulative relative lift of each metric by day: where it settles is the effect; early swings are noise."""
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(8, 3.2), dpi=100)
    dates = days.astype("datetime64[D]").astype(object)
    for key, lift in lifts.items():
        axes.plot(dates, 100 * lift, label=labels.get(key, key), linewidth=1.4)
    axes.axhline(0, color="#444", linewidth=0.8)
    axes.set_ylabel("Lift so far, %")
    axes.legend(fontsize=7, frameon=False, loc="upper left")
    axes.tick_params(labelsize=7)
    from matplotlib import dates as mdates  # noqa: PLC0415

    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m"))  # the pages' dd.mm, not 2026-11-01
    axes.yaxis.set_major_formatter(_percent_ticks())
    figure.autofmt_xdate()
    return _png(figure)
