"""The anomaly detector on small labelled series: what it must find, and what it must keep quiet about."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from analytics.monitoring.detector import DetectorSettings, episodes, find_episodes, learning, period_start, score
from analytics.monitoring.series import HOUR, grid, pivot

START = dt.datetime(2026, 9, 7)  # a Monday
WEEKS = 6
HOURLY = 1 + 0.8 * np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False) - 2)  # a day's shape, low at night


def hourly_series(level: float = 400.0, seed: int = 1) -> tuple[list[dt.datetime], np.ndarray]:
    rng = np.random.default_rng(seed)
    hours = WEEKS * 168
    times = [START + dt.timedelta(hours=h) for h in range(hours)]
    return times, rng.poisson(level * np.tile(HOURLY, hours // 24)).astype(float)


def at(day: int, hour: int) -> int:
    return day * 24 + hour


def test_a_drop_is_one_fall_episode_with_its_start_end_and_range() -> None:
    times, values = hourly_series()
    first, last = at(37, 9), at(37, 17)
    values[first:last + 1] *= 0.4
    [found] = find_episodes(times, values, settings=DetectorSettings.hourly(), metric="events", dimension="card_show")
    assert (found.direction, found.start, found.end) == ("fall", times[first], times[last])
    assert found.fingerprint == "events|card_show|fall"
    assert found.observed < found.low <= found.expected <= found.high
    assert found.change == pytest.approx(-0.6, abs=0.1)
    assert not found.ongoing


def test_a_spike_is_a_rise_and_an_episode_at_the_end_is_ongoing() -> None:
    times, values = hourly_series()
    values[-5:] *= 3
    [found] = find_episodes(times, values, settings=DetectorSettings.hourly())
    assert found.direction == "rise" and found.ongoing and found.end == times[-1]


def test_a_past_anomaly_in_the_baseline_does_not_hide_the_next_one() -> None:
    times, values = hourly_series()
    values[at(28, 10):at(28, 14)] *= 4  # a spike, and the same spike a week later: a mean would have learnt it
    values[at(35, 10):at(35, 14)] *= 4
    found = find_episodes(times, values, settings=DetectorSettings.hourly())
    assert [episode.start for episode in found] == [times[at(28, 10)], times[at(35, 10)]]


def test_small_volumes_and_small_changes_stay_quiet() -> None:
    times, tiny = hourly_series(level=3.0)
    tiny[at(37, 10):at(37, 14)] *= 4  # +300%, but a handful of events
    assert find_episodes(times, tiny, settings=DetectorSettings.hourly()) == []
    times, huge = hourly_series(level=100_000.0)
    huge[at(37, 10):at(37, 14)] *= 1.1  # far outside the noise, yet only +10%
    assert find_episodes(times, huge, settings=DetectorSettings.hourly()) == []


def test_one_odd_hour_is_not_an_episode_but_two_hours_apart_by_one_are_one() -> None:
    times, values = hourly_series()
    values[at(36, 12)] *= 3
    assert find_episodes(times, values, settings=DetectorSettings.hourly()) == []
    values[at(37, 10)] *= 3
    values[at(37, 12)] *= 3  # 11:00 is normal: one quiet point inside is allowed
    [found] = find_episodes(times, values, settings=DetectorSettings.hourly())
    assert (found.start, found.end, found.points) == (times[at(37, 10)], times[at(37, 12)], 2)


def test_a_daily_series_opens_an_episode_on_one_day() -> None:
    rng = np.random.default_rng(3)
    days = [START + dt.timedelta(days=d) for d in range(42)]
    values = rng.poisson(5_000 * np.tile([1, 1, 1, 1, 1.1, 1.3, 1.2], 6)).astype(float)
    values[40] *= 0.5
    [found] = find_episodes(days, values, settings=DetectorSettings.daily())
    assert (found.start, found.direction, found.ongoing) == (days[40], "fall", True)


def test_a_ratio_is_judged_by_its_denominator() -> None:
    rng = np.random.default_rng(4)
    days = [START + dt.timedelta(days=d) for d in range(42)]
    before = rng.poisson(400, 42).astype(float)
    after = rng.binomial(before.astype(int), 0.6).astype(float)
    after[39:41] = rng.binomial(before[39:41].astype(int), 0.05)
    settings = DetectorSettings.daily(kind="ratio", min_volume=50.0, min_change=0.15)
    [found] = find_episodes(days, after / before, volume=before, settings=settings, metric="conversion")
    assert (found.start, found.end, found.direction) == (days[39], days[40], "fall")
    assert find_episodes(days, after / before, volume=before / 100, settings=settings) == []  # too few to judge


def test_many_series_at_once_give_what_each_gives_alone() -> None:
    series = [hourly_series(level=level, seed=seed) for seed, level in enumerate((50.0, 400.0, 5_000.0))]
    times = series[0][0]
    matrix = np.vstack([values for _, values in series])
    matrix[1, at(37, 9):at(37, 15)] *= 0.3
    matrix[2, -3:] *= 2
    settings = DetectorSettings.hourly()
    together = episodes(score(matrix, settings), matrix, times, settings, [("m", str(i)) for i in range(3)])
    alone = [e for i in range(3) for e in find_episodes(times, matrix[i], settings=settings, metric="m", dimension=str(i))]
    assert sorted(together, key=str) == sorted(alone, key=str) and len(together) == 2


def test_the_first_weeks_are_not_judged() -> None:
    times, values = hourly_series()
    values[at(3, 10):at(3, 16)] *= 5  # the first week has no history to compare with
    assert find_episodes(times, values, settings=DetectorSettings.hourly()) == []


def test_scoring_stops_at_the_period_still_being_filled() -> None:
    assert period_start(dt.datetime(2026, 11, 15, 13, 42, 7), dt.timedelta(hours=1)) == dt.datetime(2026, 11, 15, 13)
    assert period_start(dt.datetime(2026, 11, 15, 13, 42, 7), dt.timedelta(days=1)) == dt.datetime(2026, 11, 15)


def test_no_history_is_not_zero_a_new_event_is_learning_not_a_rise() -> None:
    """Rows of a series that starts in the middle of the window: before its first row it is unknown, so its
    first busy hours are no "rise from 0", and it is named as learning until two seasons are known."""
    times = grid(dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 1), HOUR)
    hours = [dt.datetime(2026, 10, 1) + dt.timedelta(hours=h) for h in range(times.size)]
    late = hours[-200:]  # a new event, about eight days before the end
    rows = pa.table({"at": pa.array(hours + late, pa.timestamp("s")),
                     "dimension": ["old"] * len(hours) + ["new"] * len(late), "value": [100.0] * (len(hours) + len(late))})
    frame = pivot(rows, times, "events", HOUR)
    assert frame.names == [("events", "new"), ("events", "old")]
    assert np.isnan(frame.values[0, :-200]).all() and (frame.values[0, -200:] == 100).all()
    settings = DetectorSettings.hourly()
    found = episodes(score(frame.values, settings), frame.values, frame.times, settings, frame.names)
    assert [episode.dimension for episode in found] == []  # with zeros before it, "new" rose from a usual 0
    assert learning(frame.values, settings).tolist() == [True, False]


def test_quiet_hours_after_a_series_starts_stay_zero() -> None:
    times = grid(dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 2), HOUR)
    rows = pa.table({"at": pa.array([dt.datetime(2026, 10, 1, 3), dt.datetime(2026, 10, 1, 9)], pa.timestamp("s")),
                     "dimension": ["E_500", "E_500"], "value": [4.0, 2.0]})
    values = pivot(rows, times, "errors", HOUR, total="all").values
    assert np.isnan(values[:, :3]).all() and values[1, 3] == 4 and (values[1, 4:9] == 0).all()  # an outage reads 0


def test_a_level_series_an_average_price_is_judged_without_a_volume_rule() -> None:
    """An average price around 0.5 is no count: its jump is news, though 0.5 is below any count's volume guard."""
    rng = np.random.default_rng(3)
    times, _ = hourly_series()
    price = 0.5 * (1 + 0.03 * rng.standard_normal(len(times)))
    first, last = at(38, 9), at(39, 20)
    price[first:last + 1] *= 1.25
    assert find_episodes(times, price, settings=DetectorSettings.hourly()) == []  # read as a count: never judged
    [jump] = find_episodes(times, price, settings=DetectorSettings.hourly(kind="level"), metric="price")
    assert jump.direction == "rise" and times[first] <= jump.start <= times[first + 2] and jump.end >= times[last - 2]
    assert find_episodes(times, price[:first], settings=DetectorSettings.hourly(kind="level")) == []  # noise is calm
    with pytest.raises(ValueError, match="kind must be one of count, ratio, level"):
        DetectorSettings(kind="price")


def test_a_level_shift_is_one_episode_that_settles_and_the_baseline_learns_it() -> None:
    times, values = hourly_series()
    values[at(30, 10):] *= 1.4  # up 40% from day 30 on, for twelve days
    found = find_episodes(times, values, settings=DetectorSettings.hourly(), metric="events", dimension="app_open")
    [shift] = found  # not one episode a day while four weeks of history catch up
    assert shift.settled and not shift.ongoing and shift.direction == "rise"
    assert shift.start == times[at(30, 10)] and shift.end == times[at(30, 10) + 167]  # held a week: settled
    assert shift.change == pytest.approx(0.4, abs=0.15)


def test_a_week_of_steady_growth_is_not_news() -> None:
    times, values = hourly_series(seed=5)
    growth = 1.05 ** (np.arange(len(times)) / 168)  # 5% a week: the median of four past weeks lags 12% behind
    assert find_episodes(times, np.round(values * growth), settings=DetectorSettings.hourly()) == []
    steep = np.round(values * growth ** 2)
    steep[at(38, 9):at(38, 17)] *= 0.5  # and a drop in a growing series is still found
    [drop] = find_episodes(times, steep, settings=DetectorSettings.hourly())
    assert drop.direction == "fall" and drop.start == times[at(38, 9)]


def test_two_weeks_of_history_judge_by_the_hour_of_the_day() -> None:
    """Before four weeks of the same hour of the week are there, the same hour of the day over the last two
    weeks is the baseline: a new installation is judged from day 15, not day 29."""
    times, values = hourly_series()
    values, times = values[:at(17, 0)], times[:at(17, 0)]
    values[at(15, 9):at(15, 17)] *= 0.4
    [drop] = find_episodes(times, values, settings=DetectorSettings.hourly())
    assert drop.direction == "fall" and drop.start == times[at(15, 9)]
    assert find_episodes(times[:at(14, 0)], values[:at(14, 0)], settings=DetectorSettings.hourly()) == []
