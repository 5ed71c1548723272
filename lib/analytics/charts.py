"""One line from rows to a picture: a daily series or a share over time becomes a :class:`results.Chart`.

Analysts write ``daily_chart(rows, "Runs per day")`` or ``share_chart(rows, "Open rate by day")`` in a
report and get a PNG the page, the run page and the delivered message show; no report holds matplotlib
code, and every chart speaks the pages' language: days as dd.mm, counts with thousands separators
(12,345, never 1.2e4), shares as percentages. ``rows`` is what a report already has: a pandas Series
indexed by day, a DataFrame or an Arrow table with a day column (each other numeric column is a line).

matplotlib is imported on the first chart only (it costs a second a report that draws nothing should not
pay) and always with the Agg backend: kernels and the scheduler have no display.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from .errors import AnalyticsError
from .results import Chart

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH, HEIGHT, DPI = 8.0, 3.0, 100  # 800 × 300 pixels: the width of a report's result box
COLOURS = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037", "#757575")
Rows = pd.Series | pd.DataFrame | pa.Table


class ChartDataError(AnalyticsError):
    """The rows cannot be drawn as a daily chart; the message says what the helper expected."""


def daily_chart(rows: Rows, title: str, *, day: str = "day", labels: dict[str, str] | None = None) -> Chart:
    """Counts (or amounts) by day as lines: one per numeric column, named by ``labels`` or the column."""
    return Chart(title, png(draw(rows, day=day, labels=labels)))


def share_chart(rows: Rows, title: str, *, day: str = "day", labels: dict[str, str] | None = None) -> Chart:
    """Shares by day (0.25 is 25%) as lines, the axis in percent from 0: a rate's ups and downs at their true size."""
    return Chart(title, png(draw(rows, day=day, labels=labels, share=True)))


def bar_chart(bars: Mapping[str, float], title: str) -> Chart:
    """Named amounts as horizontal bars, the first on top (leads by manager): labels a person reads, 12,345 values."""
    pyplot = _pyplot()
    labels, values = list(bars), [float(value) for value in bars.values()]
    figure, axes = pyplot.subplots(figsize=(WIDTH, max(1.6, min(HEIGHT * 2, 0.8 + 0.35 * len(labels)))), dpi=DPI)
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, values, color=COLOURS[0], height=0.6)
    axes.set_yticks(positions, [label if len(label) <= 30 else label[:29] + "…" for label in labels], fontsize=8)
    for position, value in zip(positions, values, strict=True):
        axes.annotate(number(value), (value, position), xytext=(3, 0), textcoords="offset points", va="center",
                      fontsize=8)
    from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: PLC0415

    axes.set_xlim(0, max(max(values, default=0.0) * 1.15, 1))
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: number(value)))
    axes.tick_params(axis="x", labelsize=8)
    axes.grid(axis="x", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return Chart(title, png(figure))


def draw(rows: Rows, *, day: str = "day", labels: dict[str, str] | None = None, share: bool = False) -> Figure:
    """The figure behind :func:`daily_chart` and :func:`share_chart` (tests read its tick labels).

    It has no title of its own: the page writes the chart's title under it, once (and Slack beside the file).
    """
    frame = series_frame(rows, day)
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(WIDTH, HEIGHT), dpi=DPI)
    days = list(frame.index)
    for index, name in enumerate(frame.columns):
        axes.plot(days, frame[name].to_numpy(dtype=float), color=COLOURS[index % len(COLOURS)], linewidth=1.6,
                  marker="o" if len(days) <= 31 else None, markersize=3, label=(labels or {}).get(name, name))
    if list(frame.columns) != ["value"]:  # a line is named, even alone ("Runs"); an unnamed series is the title's
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12),  # under the days, off the lines
                    ncol=min(len(frame.columns), 4), fontsize=8, frameon=False)
    _day_axis(axes, days)
    _value_axis(axes, frame, share)
    axes.grid(axis="y", alpha=0.3)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return figure


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes at its own size (no tight crop: every chart of a page is equally wide)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    _pyplot().close(figure)
    return buffer.getvalue()


def series_frame(rows: Rows, day: str = "day") -> pd.DataFrame:
    """The rows as a frame indexed by day (``datetime.date``), oldest first, numeric columns only.

    A Series is one line named by the series; a frame or table needs the ``day`` column (or a date index).
    """
    if isinstance(rows, pa.Table):
        rows = rows.to_pandas()
    if isinstance(rows, pd.Series):
        rows = rows.to_frame(str(rows.name) if rows.name is not None else "value")
    elif day in rows.columns:
        rows = rows.set_index(day)
    elif not _looks_like_days(rows.index):
        raise ChartDataError(f"A daily chart needs a '{day}' column or dates as the index; the columns are: "
                             f"{', '.join(map(str, rows.columns))}. Pass day='your date column'.")
    frame = rows.select_dtypes("number")
    if frame.empty and len(rows.columns):
        raise ChartDataError(f"A daily chart needs at least one column of numbers besides '{day}'.")
    frame.index = [_as_day(value) for value in frame.index]
    return frame.sort_index()


def _looks_like_days(index: pd.Index) -> bool:
    return len(index) > 0 and all(isinstance(value, (dt.date, pd.Timestamp)) for value in index)


def _as_day(value: Any) -> dt.date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ChartDataError(f"The day column holds {value!r}, which is not a date.")


def _day_axis(axes: Axes, days: list[dt.date]) -> None:
    """dd.mm under the points, at most about ten labels, so a quarter of days stays readable."""
    from matplotlib import dates as mdates  # noqa: PLC0415

    axes.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    axes.xaxis.set_major_formatter(mdates.DateFormatter("%d.%m"))
    if len(days) == 1:  # one day: a window around it, else matplotlib spreads the axis over years
        axes.set_xlim(days[0] - dt.timedelta(days=1), days[0] + dt.timedelta(days=1))
    axes.tick_params(labelsize=8)


def _value_axis(axes: Axes, frame: pd.DataFrame, share: bool) -> None:
    """Counts as 12,345 and shares as 25%, never in scientific notation or with an offset above the axis."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: PLC0415

    values = frame.to_numpy(dtype=float)
    finite = values[~pd.isna(values)] if values.size else values
    top = float(finite.max()) if finite.size else 0.0
    if share:
        axes.set_ylim(0, max(top * 1.1, 0.01))
    elif top <= 0:
        axes.set_ylim(0, 1)
    else:
        axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=not share and top >= 6))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: percent(value) if share else number(value)))


def number(value: float) -> str:
    """A tick as a person writes it: 12,345; 2.5; 0.25 (never 1e4 or 2.500000)."""
    if not math.isfinite(value):
        return ""
    if float(value).is_integer():
        return f"{value:,.0f}"
    decimals = 2 if abs(value) >= 1 else 6  # 0.000015 stays itself rather than "0.00"
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


def percent(value: float) -> str:
    """A share as a tick: 0.25 is 25%, 0.125 is 12.5%."""
    if not math.isfinite(value):
        return ""
    return number(round(100 * value, 1)) + "%"


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib  # noqa: PLC0415 - heavy; only when a chart is drawn

    matplotlib.use("Agg")
    from matplotlib import pyplot  # noqa: PLC0415

    return pyplot
