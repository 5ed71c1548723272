"""The labelled benchmark set: one seed is one draw, the twin differs only where an incident was injected, and
each label is an anomaly a person would see (a benchmark whose labels hide nothing measures nothing)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analytics.monitoring.labelled import (
    HOURS_PER_WEEK,
    WARM_UP_WEEKS,
    Label,
    LabelledSeries,
    holidays,
    labelled_set,
)

SEEDS = (7, 8, 9)


@pytest.fixture(scope="module", params=SEEDS)
def drawn(request: pytest.FixtureRequest) -> tuple[np.ndarray, list[LabelledSeries], list[LabelledSeries], int]:
    times, series = labelled_set(request.param)
    _, twin = labelled_set(request.param, incidents=False)
    return times, series, twin, request.param


def window(times: np.ndarray, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    return (times >= np.datetime64(start, "s")) & (times < np.datetime64(end, "s"))


def test_one_seed_is_one_draw_and_another_seed_another() -> None:
    times, first = labelled_set(3, weeks=7)
    again_times, again = labelled_set(3, weeks=7)
    _, other = labelled_set(4, weeks=7)
    np.testing.assert_array_equal(times, again_times)
    assert times.dtype == np.dtype("datetime64[s]") and times.size == 7 * HOURS_PER_WEEK
    assert times[-1] == np.datetime64("2026-11-15T23:00:00") and np.all(np.diff(times) == np.timedelta64(1, "h"))
    for one, same in zip(first, again, strict=True):
        np.testing.assert_array_equal(one.values, same.values)
        assert one.labels == same.labels and one.name == same.name
    assert any(not np.array_equal(one.values, two.values, equal_nan=True) for one, two in zip(first, other, strict=True))
    assert holidays(3, 7) == holidays(3, 7)


def test_too_few_weeks_to_have_a_baseline_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        labelled_set(weeks=5)


def test_the_set_has_counts_ratios_and_levels_and_a_dozen_incidents_after_the_warm_up(drawn) -> None:
    times, series, twin, _ = drawn
    kinds = [one.kind for one in series]
    assert 20 <= len(series) <= 30 and {"count", "ratio", "level"} == set(kinds)
    labels = [label for one in series for label in one.labels]
    assert 10 <= len(labels) <= 14
    assert {label.kind for label in labels} == {"level_shift", "slow_drift", "spike", "drop_to_zero", "drop",
                                                "ratio_change", "level_jump"}
    warm_up_end = times[0].astype(dt.datetime) + dt.timedelta(weeks=WARM_UP_WEEKS)
    for one in series:
        for label in one.labels:
            assert label.series == one.name and warm_up_end <= label.start < label.end
            assert label.persists == (label.kind in ("level_shift", "slow_drift"))
            assert label.direction == ("fall" if label.kind in ("drop_to_zero", "drop", "ratio_change") else "rise")
            assert one.kind == {"ratio_change": "ratio", "level_jump": "level"}.get(label.kind, "count")
    assert any(label.series == "avg_price" and label.kind == "level_jump" for label in labels)
    assert all(not one.labels for one in twin)


def test_kinds_keep_their_shape(drawn) -> None:
    _, series, twin, _ = drawn
    for one in [*series, *twin]:
        known = one.values[~np.isnan(one.values)]
        if one.kind == "level":
            assert one.volume is None and np.all(known > 0)
        elif one.kind == "ratio":
            assert one.volume is not None and np.all((known >= 0) & (known <= 1))
            np.testing.assert_array_equal(np.isnan(one.values), np.isnan(one.volume))
        else:
            assert one.volume is None and np.all(known == np.round(known)) and np.all(known >= 0)
    means = {one.name: np.nanmean(one.values) for one in twin if one.kind == "count"}
    assert min(means.values()) < 40 and max(means.values()) > 4000  # from a trickle to thousands an hour


def test_missing_hours_are_missing_in_both_and_not_zero(drawn) -> None:
    _, series, twin, _ = drawn
    everywhere = None
    for one, quiet in zip(series, twin, strict=True):
        missing = np.isnan(one.values)
        np.testing.assert_array_equal(missing, np.isnan(quiet.values))
        assert 2 <= missing.sum() <= 8  # a few scattered hours and the shared two-hour outage
        everywhere = missing if everywhere is None else everywhere & missing
    assert everywhere is not None and everywhere.sum() == 2


def test_the_twin_equals_the_labelled_set_outside_the_label_windows(drawn) -> None:
    times, series, twin, _ = drawn
    first_label = min(label.start for one in series for label in one.labels)
    for one, quiet in zip(series, twin, strict=True):
        assert one.name == quiet.name and one.kind == quiet.kind
        before = times < np.datetime64(first_label, "s")
        np.testing.assert_array_equal(one.values[before], quiet.values[before])
        same = np.ones(times.size, dtype=bool)
        for label in one.labels:
            same &= times < np.datetime64(label.start, "s") if label.persists else ~window(times, label.start, label.end)
        np.testing.assert_array_equal(one.values[same], quiet.values[same])
        if one.volume is not None:
            np.testing.assert_array_equal(one.volume, quiet.volume)
        if not one.labels:
            np.testing.assert_array_equal(one.values, quiet.values)


def anomaly(times: np.ndarray, label: Label, one: LabelledSeries, quiet: LabelledSeries) -> float:
    """The labelled set over the twin in the label's window: sums for counts, pooled conversions, mean levels."""
    inside = window(times, label.start, label.end) & ~np.isnan(one.values)
    if label.kind == "slow_drift":  # its last days, where the drift is complete
        inside &= times >= np.datetime64(label.end - dt.timedelta(weeks=2), "s")
    if one.kind == "ratio":
        assert one.volume is not None
        return float(np.sum(one.values[inside] * one.volume[inside]) / np.sum(quiet.values[inside] * one.volume[inside]))
    return float(np.sum(one.values[inside]) / np.sum(quiet.values[inside]))


@pytest.mark.parametrize("kind, low, high", [
    ("level_shift", 1.25, 1.6), ("slow_drift", 1.4, 1.8), ("spike", 2.5, 5.5), ("drop", 0.25, 0.55),
    ("ratio_change", 0.45, 0.7), ("level_jump", 1.15, 1.45)])
def test_each_label_is_an_anomaly_of_its_size(drawn, kind: str, low: float, high: float) -> None:
    times, series, twin, _ = drawn
    found = [(label, one, quiet) for one, quiet in zip(series, twin, strict=True) for label in one.labels
             if label.kind == kind]
    assert found
    for label, one, quiet in found:
        assert low <= anomaly(times, label, one, quiet) <= high, (label, anomaly(times, label, one, quiet))


def test_a_drop_to_zero_is_zero_where_the_twin_is_not(drawn) -> None:
    times, series, twin, _ = drawn
    drops = [(label, one, quiet) for one, quiet in zip(series, twin, strict=True) for label in one.labels
             if label.kind == "drop_to_zero"]
    assert drops
    for label, one, quiet in drops:
        inside = window(times, label.start, label.end)
        assert 2 <= inside.sum() <= 12 and np.all(one.values[inside] == 0) and np.nansum(quiet.values[inside]) > 0


def test_short_incidents_are_whole_and_persisting_ones_hold_to_the_end(drawn) -> None:
    times, series, twin, _ = drawn
    for one, quiet in zip(series, twin, strict=True):
        for label in one.labels:
            inside = window(times, label.start, label.end)
            if label.persists:
                last_week = slice(-HOURS_PER_WEEK, None)
                assert np.nansum(one.values[last_week]) > 1.2 * np.nansum(quiet.values[last_week])
            else:
                assert not np.isnan(one.values[inside]).any()  # no missing hour hides part of a short incident


def test_holidays_move_the_volume_in_both_sets(drawn) -> None:
    times, _, twin, seed = drawn
    quiet_day, busy_day = holidays(seed)
    days = times.astype("datetime64[D]")
    judged_from = times[0].astype(dt.datetime).date() + dt.timedelta(weeks=WARM_UP_WEEKS)
    assert judged_from <= quiet_day and judged_from <= busy_day
    app_open = next(one for one in twin if one.name == "app_open").values  # in both sets: the twin has no incident

    def total(day: dt.date) -> float:
        return float(np.nansum(app_open[days == np.datetime64(day)]))

    week = dt.timedelta(weeks=1)
    assert total(quiet_day) < 0.8 * total(quiet_day - week)  # -40%, give or take the week's own noise
    assert total(busy_day) > 1.1 * total(busy_day - week)  # +30%
