"""The anomaly detector: from a regular series to anomaly episodes, for one series or thousands at once.

A point is compared with the same point of the season (the same hour of the week for hourly
series, the same weekday for daily ones) over the last few weeks. The expected value is their
median and the spread their median absolute deviation, so one past anomaly moves neither (a plain
mean and standard deviation would learn it and stay blind to the next one). Counts are noisy in
proportion to their square root, so the spread never goes below that Poisson floor; a ratio of two
counts (a step-to-step conversion) has its own floor from its denominator.

Four guards keep a channel quiet, each a field of :class:`DetectorSettings`: a point must leave
the expected range by ``threshold`` spreads *and* by ``min_change`` of the expected value; its
volume (the count, or a ratio's denominator) must reach ``min_volume``; ``min_points`` anomalous
points in a row open an episode; the period still being filled is never scored (the caller cuts
the series at :func:`period_start` of the newest event). Consecutive anomalous points in one direction, allowing
``max_gap`` quiet points inside, are one :class:`Episode`: one alert, not one per hour.

All the work is NumPy over a (series × points) matrix; :func:`find_episodes` is the one-series
entry point anyone can call with their own numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per median absolute deviation


@dataclass(frozen=True)
class DetectorSettings:
    """How sure the detector must be before it speaks. The defaults are tuned on the demo's labelled anomalies
    (``benchmarks/monitoring.py``); the backtest shows what other values would have said."""

    season: int = 168  # points per season: 168 for hourly series (a week), 7 for daily ones
    weeks: int = 4  # seasons of history in the baseline (at least 2 must be there to score a point)
    threshold: float = 5.0  # robust z: how many spreads away from the expected value
    min_change: float = 0.25  # and at least this relative change
    min_volume: float = 30.0  # the count (or a ratio's denominator) must reach this, observed or expected
    min_points: int = 2  # anomalous points in a row before an episode opens
    max_gap: int = 1  # quiet points allowed inside one episode
    max_unscored: int = 12  # points too thin to judge (a quiet night) that neither end nor extend an episode
    kind: str = "count"  # "count" (Poisson floor) or "ratio" of two counts (its floor needs the denominator, ``volume``)

    @classmethod
    def hourly(cls, **changes: object) -> DetectorSettings:
        return cls(**{"season": 168, "min_points": 2, **changes})  # type: ignore[arg-type]

    @classmethod
    def daily(cls, **changes: object) -> DetectorSettings:
        return cls(**{"season": 7, "min_points": 1, "min_volume": 100.0, "min_change": 0.2, "max_unscored": 1,
                      **changes})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scores:
    """Per point of every series: the expected value, the range outside which it is anomalous, and the verdict."""

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    anomalous: np.ndarray  # -1 fall, +1 rise, 0 normal or not scored
    scored: np.ndarray  # False where history or volume was too thin to judge


@dataclass(frozen=True)
class Episode:
    """Consecutive anomalous points of one series in one direction: what one alert is about."""

    metric: str
    dimension: str
    direction: str  # "rise" or "fall"
    start: dt.datetime  # the first anomalous point ("since when")
    end: dt.datetime  # the last anomalous point
    ongoing: bool  # still anomalous at the latest complete point
    observed: float  # at the most anomalous point
    expected: float
    low: float
    high: float
    points: int
    settled: bool = False  # a shift that held for a season: "a new level since start", now the baseline

    @property
    def change(self) -> float:
        """Relative change at the most anomalous point (0.4 = 40% above the expected value)."""
        return (self.observed - self.expected) / self.expected if self.expected else float("inf")

    @property
    def fingerprint(self) -> str:
        """What makes two detections the same episode across runs: metric, dimension, direction."""
        return "|".join((self.metric, self.dimension, self.direction))


def score(values: np.ndarray, settings: DetectorSettings, volume: np.ndarray | None = None) -> Scores:
    """Score every point of ``values`` (series × points, NaN where unknown) against its seasonal baseline."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    volume = values if volume is None else np.atleast_2d(np.asarray(volume, dtype=float))
    history = _lagged(values, settings.season, settings.weeks)
    known = np.sum(~np.isnan(history), axis=0)
    expected = _median_of_known(history, known)
    spread = MAD_TO_SIGMA * _median_of_known(np.abs(history - expected), known)
    if settings.kind == "ratio":  # a ratio of two counts a/b: its variance is about r(1 + r)/b
        base_volume = np.where(np.isnan(volume), 0, volume)
        floor = np.sqrt(np.clip(expected * (1 + expected), 1e-12, None) / np.maximum(base_volume, 1))
    else:
        floor = np.sqrt(np.maximum(expected, 1.0))
    band = np.maximum(settings.threshold * np.maximum(spread, floor), settings.min_change * np.abs(expected))
    low, high = expected - band, expected + band
    scored = (known >= 2) & ~np.isnan(values) & _enough_volume(values, expected, volume, settings)
    anomalous = np.where(scored & (values > high), 1, np.where(scored & (values < low), -1, 0)).astype(np.int8)
    return Scores(expected, np.maximum(low, 0), high, anomalous, scored)


def learning(values: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """Per series: True while its history is too short to judge its latest point (fewer than two seasons since
    its first known point): a new event or a new installation, shown as "learning", never as a rise from 0."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    points = values.shape[1]
    known = ~np.isnan(values)
    first = np.where(known.any(axis=1), np.argmax(known, axis=1), points)
    return (points - 1 - first) < 2 * settings.season


def _median_of_known(stack: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The median along the first axis ignoring NaN (NaN where nothing is known); ``np.nanmedian`` goes
    through masked arrays for a short axis and is five times slower."""
    ordered = np.sort(stack, axis=0)  # NaN sorts last
    low = np.take_along_axis(ordered, np.maximum((known - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, np.maximum(known // 2, 0)[None], axis=0)[0]
    return np.where(known > 0, (low + high) / 2, np.nan)


def _lagged(values: np.ndarray, season: int, weeks: int) -> np.ndarray:
    """The same point ``1..weeks`` seasons earlier, stacked: (weeks × series × points), NaN before the start."""
    history = np.full((weeks, *values.shape), np.nan)
    for week in range(1, weeks + 1):
        lag = week * season
        if lag < values.shape[1]:
            history[week - 1, :, lag:] = values[:, :-lag]
    return history


def _enough_volume(values: np.ndarray, expected: np.ndarray, volume: np.ndarray,
                   settings: DetectorSettings) -> np.ndarray:
    if settings.kind == "ratio":
        return np.nan_to_num(volume) >= settings.min_volume
    return np.maximum(np.nan_to_num(values), np.nan_to_num(expected)) >= settings.min_volume


def episodes(scores: Scores, values: np.ndarray, times: Sequence[dt.datetime] | np.ndarray, settings: DetectorSettings,
             names: Sequence[tuple[str, str]]) -> list[Episode]:
    """Merge each series' anomalous points into episodes; ``names`` gives (metric, dimension) per series."""
    values = np.atleast_2d(values)
    times = _datetimes(times)
    found = []
    for row, (metric, dimension) in enumerate(names):
        flags = scores.anomalous[row]
        if not flags.any():
            continue
        quiet = np.cumsum(scores.scored[row] & (flags == 0))  # unscored points (a quiet night) break nothing
        for direction, sign in (("rise", 1), ("fall", -1)):
            for hits in _runs(np.flatnonzero(flags == sign), quiet, settings):
                if hits.size < settings.min_points:
                    continue
                after = flags.size - 1 - hits[-1]
                worst = hits[np.argmax(np.abs(values[row, hits] - scores.expected[row, hits]))]
                found.append(Episode(
                    metric, dimension, direction, times[hits[0]], times[hits[-1]],
                    ongoing=bool(quiet[-1] - quiet[hits[-1]] <= settings.max_gap
                                 and after <= settings.max_gap + settings.max_unscored),
                    observed=float(values[row, worst]), expected=float(scores.expected[row, worst]),
                    low=float(scores.low[row, worst]), high=float(scores.high[row, worst]), points=int(hits.size)))
    return sorted(found, key=lambda episode: (episode.start, episode.metric, episode.dimension))


def _runs(hits: np.ndarray, quiet: np.ndarray, settings: DetectorSettings) -> list[np.ndarray]:
    """Split anomalous indexes where more than ``max_gap`` scored normal points, or a longer stretch than
    ``max_gap + max_unscored`` points, lie between neighbours. ``quiet`` is the running count of scored
    normal points, so a gap's quiet points are a difference of two counts."""
    if not hits.size:
        return []
    apart = (np.diff(quiet[hits]) > settings.max_gap) | (np.diff(hits) > 1 + settings.max_gap + settings.max_unscored)
    return np.split(hits, np.flatnonzero(apart) + 1)


def _datetimes(times: Sequence[dt.datetime] | np.ndarray) -> list[dt.datetime]:
    array = np.asarray(times)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[s]").astype(dt.datetime).tolist()
    return list(times)


def find_episodes(times: Sequence[dt.datetime] | np.ndarray, values: Sequence[float] | np.ndarray, *,
                  settings: DetectorSettings | None = None, volume: Sequence[float] | np.ndarray | None = None,
                  metric: str = "value", dimension: str = "") -> list[Episode]:
    """Anomaly episodes of one regular series (one value per hour or per day, oldest first, NaN where unknown).

    ``settings.season`` must match the step: 168 for hourly points, 7 for daily ones. For a ratio
    (a conversion), pass ``settings.kind="ratio"`` and its denominator as ``volume``.
    """
    settings = settings or DetectorSettings()
    matrix = np.atleast_2d(np.asarray(values, dtype=float))
    weights = None if volume is None else np.atleast_2d(np.asarray(volume, dtype=float))
    return episodes(score(matrix, settings, weights), matrix, times, settings, [(metric, dimension)])


def period_start(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """The start of the hour or day that holds ``moment``. For the newest event, that period is still being
    filled: it is where scoring stops."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + step * ((moment - midnight) // step) if step < dt.timedelta(days=1) else midnight
