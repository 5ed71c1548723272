"""The one-line chart helper: rows in, a PNG a person reads (dd.mm days, 12,345 counts, 25% shares) out."""

from __future__ import annotations

import datetime as dt
import io
import re

import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image

from analytics.charts import ChartDataError, daily_chart, draw, number, percent, series_frame, share_chart
from analytics.results import Chart

DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=offset) for offset in range(30)]
E_NOTATION = re.compile(r"\de[-+]?\d|×10|1e\d", re.IGNORECASE)


def _labels(figure) -> tuple[list[str], list[str]]:  # noqa: ANN001
    figure.canvas.draw()
    axes = figure.axes[0]
    return ([label.get_text() for label in axes.get_xticklabels()],
            [label.get_text() for label in axes.get_yticklabels()] + [axes.yaxis.get_offset_text().get_text()])


def _image(chart: Chart) -> Image.Image:
    image = Image.open(io.BytesIO(chart.png))
    image.load()
    return image


def test_a_daily_table_becomes_a_png_of_the_page_width() -> None:
    rows = pa.table({"day": DAYS, "runs": [1000 * offset for offset in range(30)], "exports": list(range(30))})
    chart = daily_chart(rows, "Runs and exports per day", labels={"runs": "Runs", "exports": "Exports"})
    image = _image(chart)
    assert chart.title == "Runs and exports per day"
    assert image.format == "PNG" and image.size == (800, 300)


def test_big_counts_get_thousands_separators_not_e_notation() -> None:
    frame = pd.DataFrame({"day": DAYS, "events": [5_000_000 + 100_000 * offset for offset in range(30)]})
    days, values = _labels(draw(frame))
    assert all(re.fullmatch(r"\d{2}\.\d{2}", text) for text in days if text), days
    assert any("," in text for text in values), values
    assert not any(E_NOTATION.search(text) for text in values), values


def test_tiny_values_never_turn_into_e_notation() -> None:
    series = pd.Series([0.0000005 * offset for offset in range(30)], index=DAYS, name="rate")
    _, values = _labels(draw(series))
    assert not any(E_NOTATION.search(text) for text in values), values


def test_a_share_is_drawn_in_percent_from_zero() -> None:
    rows = pd.DataFrame({"day": DAYS, "opened": [0.2 + 0.001 * offset for offset in range(30)]})
    figure = draw(rows, share=True)
    _, values = _labels(figure)
    assert figure.axes[0].get_ylim()[0] == 0
    assert "0%" in values and all(text.endswith("%") for text in values if text), values
    assert _image(share_chart(rows, "Open rate")).size == (800, 300)


def test_one_day_and_a_day_of_nothing_still_draw() -> None:
    assert _image(daily_chart(pd.DataFrame({"day": [DAYS[0]], "runs": [0]}), "One quiet day")).size == (800, 300)
    days, _ = _labels(draw(pd.DataFrame({"day": [DAYS[0]], "runs": [3]})))
    assert "01.11" in days


def test_series_frame_orders_days_and_keeps_numbers_only() -> None:
    rows = pd.DataFrame({"day": [pd.Timestamp("2026-11-02"), pd.Timestamp("2026-11-01")], "n": [2, 1], "who": ["a", "b"]})
    frame = series_frame(rows)
    assert list(frame.index) == [dt.date(2026, 11, 1), dt.date(2026, 11, 2)] and list(frame.columns) == ["n"]


@pytest.mark.parametrize("rows, says", [
    (pd.DataFrame({"when": DAYS[:2], "n": [1, 2]}), "'day' column"),
    (pd.DataFrame({"day": DAYS[:2], "who": ["a", "b"]}), "column of numbers"),
    (pd.DataFrame({"day": ["yesterday", "today"], "n": [1, 2]}), "not a date"),
])
def test_rows_that_cannot_be_drawn_say_what_was_expected(rows: pd.DataFrame, says: str) -> None:
    with pytest.raises(ChartDataError, match=says):
        daily_chart(rows, "x")


def test_tick_words() -> None:
    assert [number(12345), number(2.5), number(0.25), number(1e7)] == ["12,345", "2.5", "0.25", "10,000,000"]
    assert [percent(0.25), percent(0.125), percent(0), percent(1)] == ["25%", "12.5%", "0%", "100%"]
