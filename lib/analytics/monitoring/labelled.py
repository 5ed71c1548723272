"""Hourly metric series with labelled incidents, and their anomaly-free twin: what the detector is measured on.

The demo warehouse's anomalies are few and easy (a clean Poisson world). Product metrics are not: counts are
over-dispersed (a busy hour is busier than Poisson says), the daily and weekly shapes drift over the weeks,
holidays move whole days, some hours are missing, the newest hours are still being filled (late data), and the
metric may be a count, a conversion with its denominator, or a level (an average price) with no volume at all.
:func:`labelled_set` draws such a set from one seed, with a dozen labelled incidents of the kinds an on-call
person must hear about, each on one series and each after a four-week warm-up so a baseline exists.

``labelled_set(..., incidents=False)`` is the twin: the same draw with nothing injected. Holidays, missing hours
and late data are in both, because they are not incidents: what the detector says about them on the twin is
what they cost in false alerts. Outside the label windows the twin equals the labelled set exactly (the noise is
drawn once and shared); inside, the incident's values are drawn from the changed mean.

``benchmarks/monitoring.py`` scores the shipped detector and two baselines on both.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

HOURS_PER_WEEK = 168
WARM_UP_WEEKS = 4  # incidents start after this much history: the detector's baseline is four weeks


@dataclass(frozen=True)
class Label:
    """One injected incident: on which series, over which hours ([start, end), end exclusive), and what it was."""

    kind: str  # level_shift, slow_drift, spike, drop_to_zero, drop, ratio_change, level_jump
    series: str
    start: dt.datetime
    end: dt.datetime  # the end of the last changed hour; for a change that persists, see ``persists``
    description: str
    persists: bool = False  # the values stay changed to the data's end; ``end`` is two weeks after the change is
    # complete: by then half of a four-week baseline has the new level, and an alarm is no longer news about it

    @property
    def direction(self) -> str:
        """Which way the series moved: "rise" or "fall" (an alarm the other way is not about this incident)."""
        return "rise" if self.kind in RISES else "fall"


@dataclass(frozen=True)
class LabelledSeries:
    """One hourly metric: its values (NaN for a missing hour), a ratio's denominator, and its labels."""

    name: str
    kind: str  # "count" (events per hour), "ratio" (a conversion with its denominator), "level" (an average)
    values: np.ndarray
    volume: np.ndarray | None  # a ratio's denominator per hour (NaN where missing); None for counts and levels
    labels: tuple[Label, ...] = field(default=())


# name, mean events per hour (counts); name, rate, denominator per hour (ratios); name, typical value (levels)
COUNTS = (("app_open", 5000), ("search", 2500), ("card_view", 1500), ("sign_in", 1200), ("push_open", 800),
          ("payment", 400), ("card_add", 300), ("download", 150), ("purchase", 90), ("export", 60), ("signup", 35),
          ("share", 20))
RATIOS = (("search_to_card", 0.25, 2500), ("card_to_purchase", 0.06, 1500), ("checkout_conversion", 0.04, 1200),
          ("push_click_through", 0.12, 800), ("trial_to_paid", 0.02, 400), ("share_rate", 0.08, 300),
          ("signup_activation", 0.30, 60))
LEVELS = (("avg_price", 0.5), ("avg_duration_s", 120.0), ("avg_basket", 24.0), ("avg_session_min", 6.5),
          ("p95_load_s", 1.8))

# the incidents of one set: persisting changes first (they need the weeks after them), then the short ones
INCIDENTS = ("level_shift", "slow_drift", "spike", "spike", "drop_to_zero", "drop_to_zero", "drop", "drop",
             "ratio_change", "ratio_change", "level_jump", "level_jump")
PERSISTING = ("level_shift", "slow_drift")
RISES = ("level_shift", "slow_drift", "spike", "level_jump")
LEARNT = 2 * HOURS_PER_WEEK  # a persisting change's label ends this long after it is complete


@dataclass(frozen=True)
class _Plan:
    kind: str
    series: str
    first: int  # first changed hour (index)
    last: int  # one past the last changed hour (index)
    factor: np.ndarray  # the mean's multiplier over [first, last)
    description: str
    label_last: int = 0  # one past the label's last hour when it is not ``last`` (a persisting change)


def labelled_set(seed: int = 7, weeks: int = 10, *, incidents: bool = True,
                 end: dt.datetime = dt.datetime(2026, 11, 16)) -> tuple[np.ndarray, list[LabelledSeries]]:
    """Hourly times (``datetime64[s]``, ``weeks`` × 168 of them, the last one an hour before ``end``) and the
    series of one draw. The same ``seed`` and ``weeks`` give the same numbers; ``incidents=False`` is the twin."""
    times, hours = _hours(weeks, end)
    rng = np.random.default_rng(seed)
    calendar = _Calendar(times, rng)  # its draws come first: holidays() repeats them
    plans = _plan_incidents(np.random.default_rng([seed, 1]), calendar)
    draw = np.random.default_rng([seed, 2])  # the values inside incident windows: drawn only where they change
    out = []
    for name, per_hour in COUNTS:
        mean = per_hour * calendar.shape(rng, day_amplitude=rng.uniform(0.5, 0.9)) * calendar.holiday_factor(rng)
        mean = mean * rng.gamma(*_gamma(rng.uniform(0.03, 0.10), hours))  # over-dispersion: negative binomial
        values = rng.poisson(mean).astype(float)
        own = [plan for plan in plans if plan.series == name]
        if incidents:
            for plan in own:
                window = slice(plan.first, plan.last)
                values[window] = draw.poisson(mean[window] * plan.factor).astype(float)
        values = _late(values, rng)
        out.append(_series(name, "count", values, None, own, incidents, calendar, rng, times))
    for name, rate, per_hour in RATIOS:
        volume = rng.poisson(per_hour * calendar.shape(rng, day_amplitude=rng.uniform(0.4, 0.8))
                             * calendar.holiday_factor(rng)).astype(float)
        conversion = rate * calendar.shape(rng, day_amplitude=0.08, week_spread=0.04)
        conversion = np.clip(conversion * rng.lognormal(0, rng.uniform(0.03, 0.08), hours), 0, 1)
        converted = rng.binomial(volume.astype(np.int64), conversion).astype(float)
        own = [plan for plan in plans if plan.series == name]
        if incidents:
            for plan in own:
                window = slice(plan.first, plan.last)
                converted[window] = draw.binomial(volume[window].astype(np.int64),
                                                  np.clip(conversion[window] * plan.factor, 0, 1)).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(volume > 0, converted / np.maximum(volume, 1), np.nan)
        out.append(_series(name, "ratio", values, volume, own, incidents, calendar, rng, times))
    for name, typical in LEVELS:
        daily = calendar.shape(rng, day_amplitude=0.04, week_spread=0.02, growth=0.004)
        traffic = calendar.shape(rng, day_amplitude=0.7)  # a thin night averages fewer purchases: noisier
        spread = rng.uniform(0.02, 0.05) * np.minimum(1 / np.sqrt(traffic), 3)
        values = typical * daily * (1 + spread * rng.standard_normal(hours))
        own = [plan for plan in plans if plan.series == name]
        if incidents:
            for plan in own:
                values[plan.first:plan.last] *= plan.factor
        out.append(_series(name, "level", values, None, own, incidents, calendar, rng, times))
    return times, out


def _hours(weeks: int, end: dt.datetime) -> tuple[np.ndarray, int]:
    if weeks < WARM_UP_WEEKS + 2:
        raise ValueError(f"weeks must be at least {WARM_UP_WEEKS + 2}: four weeks of baseline and two to judge")
    hours = weeks * HOURS_PER_WEEK
    start = np.datetime64(end, "s") - np.timedelta64(hours, "h")
    return start + np.arange(hours).astype("timedelta64[h]"), hours


def _gamma(cv: float, size: int) -> tuple[float, float, int]:
    """Shape and scale of a mean-1 gamma with coefficient of variation ``cv``: a Poisson of a gamma-distributed
    mean is the negative binomial of real event counts."""
    shape = 1 / cv**2
    return shape, 1 / shape, size


class _Calendar:
    """What all series share: the hours, the holidays, and the pipeline outage (set once incidents are planned)."""

    def __init__(self, times: np.ndarray, rng: np.random.Generator) -> None:
        self.times = times
        self.hours = times.size
        index = np.arange(self.hours)
        self.hour_of_day = (times.astype("datetime64[h]").astype(np.int64) % 24).astype(int)
        self.weekday = ((times.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(int)  # 0 is Monday
        self.progress = index / self.hours  # 0 at the start, 1 at the end: how far the shapes have drifted
        days = self.hours // 24
        judged = range(WARM_UP_WEEKS * 7 + 2, days - 1)
        self.holidays = sorted(int(day) for day in rng.choice(list(judged), size=2, replace=False))
        self.holiday_sizes = (0.6, 1.3)  # one quiet day (-40%), one busy day (+30%)
        self.outage = 0  # the first of two hours lost in every series

    def shape(self, rng: np.random.Generator, *, day_amplitude: float, week_spread: float = 0.12,
              growth: float | None = None) -> np.ndarray:
        """A multiplier with mean about 1: a daily curve whose peak hour and depth drift, a weekly pattern that
        drifts from one shape to another, a growth trend and a slow wobble (AR(1) in logs)."""
        peak = rng.uniform(12, 20) + rng.uniform(-1.5, 1.5) * self.progress
        depth = day_amplitude * (1 + rng.uniform(-0.15, 0.15) * self.progress)
        second = rng.uniform(0, 0.25) * day_amplitude
        log = (depth * np.cos(2 * np.pi * (self.hour_of_day - peak) / 24)
               + second * np.cos(4 * np.pi * (self.hour_of_day - rng.uniform(0, 24)) / 24))
        weekend = rng.choice([-1, 1]) * rng.uniform(0.05, 0.3) * week_spread / 0.12
        before = rng.normal(0, week_spread / 3, 7) + weekend * (np.arange(7) >= 5)
        after = before + rng.normal(0, week_spread / 2, 7)
        log += before[self.weekday] * (1 - self.progress) + after[self.weekday] * self.progress
        weeks = self.hours / HOURS_PER_WEEK
        log += (rng.uniform(-0.01, 0.03) if growth is None else growth) * weeks * self.progress
        log += _wobble(rng, self.hours, sd=0.04 * week_spread / 0.12, keep=0.9)
        return np.exp(log - np.mean(log))

    def holiday_factor(self, rng: np.random.Generator) -> np.ndarray:
        """The holidays' effect on one series' volume: about -40% on one day and +30% on another."""
        factor = np.ones(self.hours)
        for day, size in zip(self.holidays, self.holiday_sizes, strict=True):
            factor[day * 24:(day + 1) * 24] = size * rng.uniform(0.9, 1.1)
        return factor


def _wobble(rng: np.random.Generator, size: int, *, sd: float, keep: float) -> np.ndarray:
    """A stationary AR(1) series with standard deviation ``sd``: neighbouring hours deviate together."""
    shocks = rng.normal(0, sd * np.sqrt(1 - keep**2), size)
    out = np.empty(size)
    out[0] = rng.normal(0, sd)
    for i in range(1, size):
        out[i] = keep * out[i - 1] + shocks[i]
    return out


def _late(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A third of the counts arrive late: their newest 1–3 hours hold only 30–80% of their events so far."""
    if rng.random() < 1 / 3:
        late = int(rng.integers(1, 4))
        share = np.sort(rng.uniform(0.3, 0.8, late))  # the newest hour is the emptiest
        values = values.copy()
        values[-late:] = np.round(values[-late:] * share[::-1])
    return values


def _series(name: str, kind: str, values: np.ndarray, volume: np.ndarray | None, plans: list[_Plan], labelled: bool,
            calendar: _Calendar, rng: np.random.Generator, times: np.ndarray) -> LabelledSeries:
    """The finished series: a few scattered missing hours (never inside a short incident, which they would hide;
    the twin loses the same hours) and the shared two-hour outage, NaN in the values and the denominator."""
    missing = rng.choice(calendar.hours, size=int(rng.integers(1, 5)), replace=False)
    for plan in plans:
        if plan.kind not in PERSISTING:
            missing = missing[(missing < plan.first) | (missing >= plan.last)]
    missing = np.concatenate([missing, [calendar.outage, calendar.outage + 1]])
    values = values.copy()
    values[missing] = np.nan
    if volume is not None:
        volume = volume.copy()
        volume[missing] = np.nan
    labels = tuple(Label(plan.kind, name, _datetime(times, plan.first), _datetime(times, plan.label_last or plan.last),
                         plan.description, persists=plan.kind in PERSISTING) for plan in plans if labelled)
    return LabelledSeries(name, kind, values, volume, labels)


def _datetime(times: np.ndarray, index: int) -> dt.datetime:
    moment = times[index] if index < times.size else times[-1] + np.timedelta64(1, "h")
    return moment.astype("datetime64[s]").astype(dt.datetime)


def _plan_incidents(rng: np.random.Generator, calendar: _Calendar) -> list[_Plan]:
    """Where the incidents go: one per slot of the judged weeks (a slot per incident, so two rarely open
    together), persisting ones in the first slots, short ones in the daytime, none touching a holiday."""
    days = calendar.hours // 24
    first_day, last_day = WARM_UP_WEEKS * 7 + 1, days - 2
    slots = np.linspace(first_day, last_day, len(INCIDENTS) + 1)
    persisting = [kind for kind in INCIDENTS if kind in PERSISTING]
    short = [kind for kind in INCIDENTS if kind not in PERSISTING]
    order = list(rng.permutation(len(persisting) + 2)[:len(persisting)])  # persisting ones among the early slots
    slot_of = dict(zip(range(len(persisting)), order, strict=True))
    free = [slot for slot in range(len(INCIDENTS)) if slot not in order]
    rng.shuffle(free)
    counts = [name for name, _ in COUNTS]
    rng.shuffle(counts)
    ratios = [name for name, _, _ in RATIOS]
    rng.shuffle(ratios)
    levels = ["avg_price", *(str(name) for name in rng.permutation([name for name, _ in LEVELS if name != "avg_price"]))]
    pools = {"count": counts, "ratio": ratios, "level": levels}
    plans = []
    for number, kind in enumerate(persisting + short):
        slot = slot_of[number] if number < len(persisting) else free[number - len(persisting)]
        day = int(rng.integers(int(slots[slot]), max(int(slots[slot + 1]) - 1, int(slots[slot]) + 1)))
        for _ in range(days):  # a short incident moves off a holiday (and the day after it)
            if kind in PERSISTING or all(abs(day - holiday) > 1 for holiday in calendar.holidays):
                break
            day = day + 2 if day + 2 < last_day else first_day + int(rng.integers(0, 7))
        series_kind = "ratio" if kind == "ratio_change" else "level" if kind == "level_jump" else "count"
        plans.append(_incident(rng, kind, pools[series_kind].pop(0), day, calendar.hours))
    busy = np.zeros(calendar.hours + 2, dtype=bool)  # the outage falls outside short incidents, like scattered gaps
    for plan in plans:
        if plan.kind not in PERSISTING:
            busy[max(plan.first - 1, 0):plan.last] = True
    free = np.flatnonzero(~busy[:-2] & ~busy[1:-1])
    calendar.outage = int(rng.choice(free[(free >= WARM_UP_WEEKS * HOURS_PER_WEEK) & (free < calendar.hours - 48)]))
    return plans


def _incident(rng: np.random.Generator, kind: str, series: str, day: int, hours: int) -> _Plan:
    """One incident's hours and the multiplier of the series' mean over them."""
    daytime = day * 24 + int(rng.integers(8, 19))
    if kind == "level_shift":
        first, size = day * 24 + int(rng.integers(0, 24)), rng.uniform(0.3, 0.5)
        return _Plan(kind, series, first, hours, np.full(hours - first, 1 + size), f"+{size:.0%} from then on",
                     label_last=min(first + LEARNT, hours))
    if kind == "slow_drift":
        first, size, ramp = day * 24, rng.uniform(0.5, 0.7), int(rng.integers(12, 17)) * 24
        factor = 1 + size * np.minimum(np.arange(1, hours - first + 1) / ramp, 1)
        return _Plan(kind, series, first, hours, factor, f"+{size:.0%} over {ramp // 24} days, then stays",
                     label_last=min(first + ramp + LEARNT, hours))
    if kind == "spike":
        length, size = int(rng.integers(2, 7)), rng.uniform(3, 5)
        return _Plan(kind, series, daytime, daytime + length, np.full(length, size), f"×{size:.1f} for {length} h")
    if kind == "drop_to_zero":
        length = int(rng.integers(2, 13))
        return _Plan(kind, series, daytime, daytime + length, np.zeros(length), f"0 for {length} h")
    if kind == "drop":
        length, size = int(rng.integers(1, 4)) * 24, rng.uniform(0.5, 0.7)
        first = daytime - 12
        return _Plan(kind, series, first, first + length, np.full(length, 1 - size),
                     f"-{size:.0%} for {length // 24} d")
    if kind == "ratio_change":
        length, size = int(rng.integers(24, 73)), rng.uniform(0.35, 0.45)
        return _Plan(kind, series, daytime, daytime + length, np.full(length, 1 - size),
                     f"conversion -{size:.0%} (relative) for {length} h")
    if kind == "level_jump":
        length, size = int(rng.integers(24, 49)), rng.uniform(0.2, 0.4)
        return _Plan(kind, series, daytime, daytime + length, np.full(length, 1 + size), f"+{size:.0%} for {length} h")
    raise ValueError(f"unknown incident kind {kind!r}")


def holidays(seed: int = 7, weeks: int = 10, end: dt.datetime = dt.datetime(2026, 11, 16)) -> tuple[dt.date, ...]:
    """The holidays of :func:`labelled_set` with these arguments (the same in its twin): a benchmark names them
    so a false alarm on a holiday is seen as one."""
    times, _ = _hours(weeks, end)
    calendar = _Calendar(times, np.random.default_rng(seed))
    return tuple(_datetime(times, day * 24).date() for day in calendar.holidays)
