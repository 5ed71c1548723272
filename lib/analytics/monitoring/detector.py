"""The anomaly detector: from a regular series to anomaly episodes, for one series or thousands at once.

A point is compared with the same point of the season (the same hour of the week for hourly
series, the same weekday for daily ones) over the last four weeks, each brought to today's level by
the series' own growth. The expected value is their median and the spread their median absolute
deviation, so one past anomaly moves neither (a plain mean and standard deviation would learn it and
stay blind to the next one). Before four weeks are there, the same hour of the day over the last two
weeks stands in; before two weeks, nothing is judged (learning). A series has a kind: counts are
noisy in proportion to their square root, so their spread never goes below that Poisson floor; a
ratio of two counts (a step-to-step conversion) has its floor from its denominator; a level (a price,
an average) has a small relative floor and no volume rule.

Four guards keep a channel quiet, each a field of :class:`DetectorSettings`: a point must leave
the expected range by ``threshold`` spreads *and* by ``min_change`` of the expected value; its
volume (the count, or a ratio's denominator) must reach ``min_volume``; ``min_points`` anomalous
points in a row open an episode; the period still being filled is never scored (the caller cuts
the series at :func:`period_start` of the newest event). Consecutive anomalous points in one direction, allowing
``max_gap`` quiet points inside, are one :class:`Episode`: one alert, not one per hour. A shift that
holds for a season *settles* (:func:`_settle`): one episode "a new level since …", and the baseline
learns the level instead of reporting it again each day.

All the work is NumPy over a (series × points) matrix; :func:`find_episodes` is the one-series
entry point anyone can call with their own numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per median absolute deviation


KINDS = ("count", "ratio", "level")
LEVEL_DEFAULTS = {"min_change": 0.15}  # a price or an average: 15% is news, its volume is no guide


@dataclass(frozen=True)
class DetectorSettings:
    """How sure the detector must be before it speaks. The defaults are tuned on the labelled series of
    ``benchmarks/monitoring.py``; the backtest shows what other values would have said."""

    season: int = 168  # points per season: 168 for hourly series (a week), 7 for daily ones
    weeks: int = 4  # seasons of history in the full baseline (the same hour of the week, four weeks back)
    short_season: int = 24  # before `weeks` seasons are there: the same hour of the day over the last two weeks
    threshold: float = 5.0  # robust z: how many spreads away from the expected value
    min_change: float = 0.25  # and at least this relative change
    min_volume: float = 30.0  # the count (or a ratio's denominator) must reach this, observed or expected
    min_points: int = 2  # anomalous points in a row before an episode opens
    max_gap: int = 1  # quiet points allowed inside one episode
    max_unscored: int = 12  # points too thin to judge (a quiet night) that neither end nor extend an episode
    # "count": Poisson floor and the volume rule; "ratio" of two counts: its floor and rule need the denominator
    # (``volume``); "level" (a price, an average, a duration): no volume rule, a relative floor instead
    kind: str = "count"
    level_floor: float = 0.02  # a level's spread is never below this share of its expected value
    settle_after: int = 168  # a shift that holds one side this long (a season) is the new level, not news

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")

    @property
    def history_points(self) -> int:
        """Points of history a point needs before it is judged: two weeks (learning before that)."""
        return 2 * self.season

    @classmethod
    def hourly(cls, **changes: object) -> DetectorSettings:
        return cls._of_kind({"season": 168, "short_season": 24, "min_points": 2, "settle_after": 168}, changes)

    @classmethod
    def daily(cls, **changes: object) -> DetectorSettings:
        # a day's fallback is the same weekday two weeks back: "the last 14 days" would read every Saturday as news
        return cls._of_kind({"season": 7, "short_season": 7, "min_points": 1, "min_volume": 100.0, "min_change": 0.2,
                             "max_unscored": 1, "settle_after": 7}, changes)

    @classmethod
    def _of_kind(cls, base: dict[str, object], changes: dict[str, object]) -> DetectorSettings:
        kind_defaults = LEVEL_DEFAULTS if changes.get("kind") == "level" else {}
        return cls(**{**base, **kind_defaults, **changes})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scores:
    """Per point of every series: the expected value, the range outside which it is anomalous, and the verdict."""

    expected: np.ndarray
    low: np.ndarray
    high: np.ndarray
    anomalous: np.ndarray  # -1 fall, +1 rise, 0 normal or not scored
    scored: np.ndarray  # False where history or volume was too thin to judge
    shifts: tuple[Shift, ...] = ()  # level shifts the baseline learnt, oldest first per series


@dataclass(frozen=True)
class Shift:
    """A series moved to a new level at ``start`` and held it until ``settled`` (point indexes): from then on its
    history before ``start`` counts times ``factor``, so the baseline expects the new level."""

    row: int
    start: int
    settled: int
    sign: int  # +1 rise, -1 fall
    factor: float


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
    step: dt.timedelta = dt.timedelta(0)  # the series' period: the episode covers up to ``end + step``

    @property
    def change(self) -> float:
        """Relative change at the most anomalous point (0.4 = 40% above the expected value)."""
        return (self.observed - self.expected) / self.expected if self.expected else float("inf")

    @property
    def fingerprint(self) -> str:
        """What makes two detections the same episode across runs: metric, dimension, direction."""
        return "|".join((self.metric, self.dimension, self.direction))


def score(values: np.ndarray, settings: DetectorSettings, volume: np.ndarray | None = None) -> Scores:
    """Score every point of ``values`` (series × points, NaN where unknown) against its seasonal baseline, learning
    each level shift that settles (see :func:`_settle`)."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    volume = None if volume is None else np.atleast_2d(np.asarray(volume, dtype=float))
    return _settle(values, volume, settings, _score(values, values, settings, volume))


def _score(values: np.ndarray, history: np.ndarray, settings: DetectorSettings, volume: np.ndarray | None) -> Scores:
    """Each point against ``history``'s same hour of the week over ``weeks`` weeks once they are there, before
    that against the same hour of the day over the last two weeks; nothing before two weeks of history."""
    volume = values if volume is None else volume
    growth = _growth(history, settings)
    weekly = _lagged(history, settings.season, settings.weeks) * _catch_up(growth, settings.season, settings.weeks,
                                                                           settings.season)
    short_count = settings.history_points // settings.short_season
    short = _lagged(history, settings.short_season, short_count) * _catch_up(growth, settings.short_season, short_count,
                                                                             settings.season)
    known_weekly, known_short = np.sum(~np.isnan(weekly), axis=0), np.sum(~np.isnan(short), axis=0)
    full = known_weekly >= settings.weeks
    expected_weekly, spread_weekly = _centre_and_spread(weekly, known_weekly)
    expected_short, spread_short = _centre_and_spread(short, known_short)
    expected = np.where(full, expected_weekly, expected_short)
    spread = np.where(full, spread_weekly, spread_short)
    band = np.maximum(settings.threshold * np.maximum(spread, _floor(expected, volume, settings)),
                      settings.min_change * np.abs(expected))
    low, high = expected - band, expected + band
    enough_history = full | (known_short >= short.shape[0])
    scored = enough_history & ~np.isnan(values) & ~np.isnan(expected) & _enough_volume(values, expected, volume, settings)
    anomalous = np.where(scored & (values > high), 1, np.where(scored & (values < low), -1, 0)).astype(np.int8)
    return Scores(expected, np.maximum(low, 0), high, anomalous, scored)


MAX_GROWTH = 0.15  # per season: a trend steeper than this is news for the detector, not something to follow


def _growth(history: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """Per point, the log growth per season a growing product shows: without it the median of past weeks lags
    behind (and their spread is the growth, not the noise). It is the median week-over-week change of every point
    of the baseline's own weeks, measured up to one season ago: one bad day there moves it little, and a shift of
    the last days is not followed (it stays news until it settles)."""
    import pandas as pd  # noqa: PLC0415 - its rolling median is the fast one

    season = settings.season
    growth = np.zeros(history.shape)
    if history.shape[1] <= 2 * season:
        return growth
    change = np.full(history.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        now, before = history[:, season:], history[:, :-season]
        change[:, season:] = np.where((now > 0) & (before > 0), np.log(now / before), np.nan)
    span = season * (settings.weeks - 1)
    typical = pd.DataFrame(change.T).rolling(span, min_periods=season).median().to_numpy().T
    growth[:, season:] = np.nan_to_num(typical[:, :-season])
    return np.clip(growth, np.log(1 - MAX_GROWTH), np.log(1 + MAX_GROWTH))


def _catch_up(growth: np.ndarray, lag: int, count: int, season: int) -> np.ndarray:
    """The factors bringing the values ``lag``, 2 × ``lag``, … points back to today's level."""
    return np.exp((np.arange(1, count + 1) * lag / season)[:, None, None] * growth[None])


def _centre_and_spread(stack: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The median and the robust spread (MAD as a standard deviation) of each point's history."""
    centre = _median_of_known(stack, known)
    return centre, MAD_TO_SIGMA * _median_of_known(np.abs(stack - centre), known)


def _floor(expected: np.ndarray, volume: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """The least spread a point's kind allows: a count's Poisson noise, a ratio's binomial noise from its
    denominator, a level's small share of itself (a price without noise is still not exact)."""
    if settings.kind == "ratio":  # a ratio of two counts a/b: its variance is about r(1 + r)/b
        base_volume = np.where(np.isnan(volume), 0, volume)
        return np.sqrt(np.clip(expected * (1 + expected), 1e-12, None) / np.maximum(base_volume, 1))
    if settings.kind == "level":
        return settings.level_floor * np.abs(np.nan_to_num(expected))
    return np.sqrt(np.maximum(expected, 1.0))


MAX_SHIFTS = 8  # per series and scan: more than that is a series that never settles, judged as it comes
SETTLED_SHARE = 0.8  # of the judged points in the settling stretch that must lie on the shift's side
LEAST_FACTOR = 0.1  # a fall to under a tenth is an outage, never "a new level"


def _settle(values: np.ndarray, volume: np.ndarray | None, settings: DetectorSettings, scores: Scores) -> Scores:
    """Learn the level shifts: when a series, from its first anomalous point on, stays on that side of its
    expected value for ``settle_after`` points (a season: every hour of the week seen at the new level), the
    shift is a new level. Its history before the shift is scaled by the shift's size and the rest of the series
    is judged again, so the next day is normal, not another "rise"."""
    rows = np.flatnonzero(scores.anomalous.any(axis=1)) if settings.settle_after > 0 else []
    if not len(rows):
        return scores
    expected, low, high = scores.expected.copy(), scores.low.copy(), scores.high.copy()
    anomalous, scored, shifts = scores.anomalous.copy(), scores.scored.copy(), []
    for row in rows:
        history, begin = values[row].copy(), 0
        for _ in range(MAX_SHIFTS):
            shift = _next_shift(row, values[row], expected[row], anomalous[row], scored[row], settings, begin)
            if shift is None:
                break
            history[:shift.start] *= shift.factor
            again = _score(values[row:row + 1], history[None], settings, None if volume is None else volume[row:row + 1])
            after = slice(shift.settled + 1, None)
            for mine, new in ((expected, again.expected), (low, again.low), (high, again.high),
                              (anomalous, again.anomalous), (scored, again.scored)):
                mine[row, after] = new[0, after]
            shifts.append(shift)
            begin = shift.settled + 1
    return Scores(expected, low, high, anomalous, scored, tuple(shifts))


def _next_shift(row: int, values: np.ndarray, expected: np.ndarray, anomalous: np.ndarray, scored: np.ndarray,
                settings: DetectorSettings, begin: int) -> Shift | None:
    """The first anomalous point from ``begin`` after which the series held its side for ``settle_after`` points
    and is still anomalous in the second half of that stretch, by at least half the least change that counts
    (a spike followed by a week a little above is no shift; a drop that recovered is no new level)."""
    length = settings.settle_after
    side = np.where(scored, np.sign(np.nan_to_num(values - expected)), 0)
    judged = np.concatenate([[0], np.cumsum(scored)])
    above, below = np.concatenate([[0], np.cumsum(side > 0)]), np.concatenate([[0], np.cumsum(side < 0)])
    for start in np.flatnonzero(anomalous[begin:]) + begin:
        settled = start + length - 1
        if settled >= values.size:
            return None
        sign = int(anomalous[start])
        total = judged[settled + 1] - judged[start]
        same = (above if sign > 0 else below)[settled + 1] - (above if sign > 0 else below)[start]
        held = slice(start + length // 2, settled + 1)  # the stretch's second half: the level it holds now
        if total < length / 3 or same < SETTLED_SHARE * total or not (anomalous[held] == sign).any():
            continue  # not held, or only its start was news (a spike, then a week a little above)
        usable = scored[held] & (expected[held] > 0)
        factor = float(np.median(values[held][usable] / expected[held][usable])) if usable.any() else 0.0
        if factor > LEAST_FACTOR and abs(factor - 1) >= settings.min_change / 2:  # held, and by a real step
            return Shift(row, int(start), int(settled), sign, factor)
    return None


def learning(values: np.ndarray, settings: DetectorSettings) -> np.ndarray:
    """Per series: True while its history is too short to judge its latest point (fewer than two seasons since
    its first known point): a new event or a new installation, shown as "learning", never as a rise from 0."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    points = values.shape[1]
    known = ~np.isnan(values)
    first = np.where(known.any(axis=1), np.argmax(known, axis=1), points)
    return (points - 1 - first) < settings.history_points


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
    if settings.kind == "level":  # an average price has no volume: 0.5 is as sure as 500
        return np.ones(values.shape, dtype=bool)
    if settings.kind == "ratio":
        return np.nan_to_num(volume) >= settings.min_volume
    return np.maximum(np.nan_to_num(values), np.nan_to_num(expected)) >= settings.min_volume


def episodes(scores: Scores, values: np.ndarray, times: Sequence[dt.datetime] | np.ndarray, settings: DetectorSettings,
             names: Sequence[tuple[str, str]]) -> list[Episode]:
    """Merge each series' anomalous points into episodes; ``names`` gives (metric, dimension) per series. The
    anomalous points of a shift that settled are one episode, "a new level since", closed where it settled."""
    values = np.atleast_2d(values)
    times = _datetimes(times)
    step = times[1] - times[0] if len(times) > 1 else dt.timedelta(0)
    found = []
    for row, (metric, dimension) in enumerate(names):
        flags = scores.anomalous[row]
        if not flags.any():
            continue
        quiet = np.cumsum(scores.scored[row] & (flags == 0))  # unscored points (a quiet night) break nothing
        for direction, sign in (("rise", 1), ("fall", -1)):
            hits = np.flatnonzero(flags == sign)
            for shift in (shift for shift in scores.shifts if shift.row == row and shift.sign == sign):
                inside = (hits >= shift.start) & (hits <= shift.settled)
                found.append(_episode(scores, values, times, row, (metric, dimension, direction), hits[inside],
                                      ongoing=False, settled_at=times[shift.settled], step=step))
                hits = hits[~inside]
            for run in _runs(hits, quiet, settings):
                if run.size < settings.min_points:
                    continue
                after = flags.size - 1 - run[-1]
                ongoing = bool(quiet[-1] - quiet[run[-1]] <= settings.max_gap
                               and after <= settings.max_gap + settings.max_unscored)
                found.append(_episode(scores, values, times, row, (metric, dimension, direction), run, ongoing=ongoing,
                                      step=step))
    return sorted(found, key=lambda episode: (episode.start, episode.metric, episode.dimension))


def _episode(scores: Scores, values: np.ndarray, times: list[dt.datetime], row: int, about: tuple[str, str, str],
             hits: np.ndarray, *, ongoing: bool, settled_at: dt.datetime | None = None,
             step: dt.timedelta = dt.timedelta(0)) -> Episode:
    """One episode from its anomalous points, described at its most anomalous one; a settled shift at its typical
    one (the median change), since "a new level, up 30%" is about the level, not its noisiest hour."""
    if settled_at is None:
        worst = hits[np.argmax(np.abs(values[row, hits] - scores.expected[row, hits]))]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.nan_to_num(values[row, hits] / scores.expected[row, hits], nan=1.0, posinf=1e9)
        worst = hits[np.argsort(ratio)[len(hits) // 2]]
    return Episode(*about, times[hits[0]], settled_at or times[hits[-1]], ongoing=ongoing,
                   observed=float(values[row, worst]), expected=float(scores.expected[row, worst]),
                   low=float(scores.low[row, worst]), high=float(scores.high[row, worst]), points=int(hits.size),
                   settled=settled_at is not None, step=step)


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
