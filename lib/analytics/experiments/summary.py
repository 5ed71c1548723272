"""An A/B summary a non-analyst can act on: gates first, then one plain verdict per metric.

Order of judgement, as a careful analyst would do it by hand:

0. **Two groups.** The control and one test variant, chosen by name (:mod:`.variants`); an empty
   group or a name the experiment does not have is refused, a third variant left out and named.
1. **No variation.** A metric on which every user in both groups has the same value (a target
   event everybody did, or nobody) says "no variation to compare": no test can judge it, and its
   NaN p-value must not become a verdict.
2. **Sample ratio.** If the groups' sizes do not fit the planned split (chi-square, red below
   p = 0.001), the assignment is broken and every verdict reads "results not trustworthy (SRM)".
3. **Enough data.** A metric with fewer than :data:`MIN_CONVERTING` users who did the event in
   either group says "not enough data" rather than a verdict, and stays out of the correction.
4. **The test.** Welch for per-user means, the two-proportion z-test for shares (CUPED-adjusted
   per-user values with Welch when variance reduction is on); Holm-adjusted p-values across the
   judged metrics decide between better, worse and no detectable change.
5. **Plausibility.** A relative change beyond ±50% is flagged: it is more often a bug than a win.

Only a tested metric (steps 3 and 4) shows a change, an interval or a flag: on a thin or constant
metric those numbers would be noise a reader could take for a finding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .metrics import MEAN, Metric
from .tests import (
    Comparison,
    NoVariationError,
    SampleRatio,
    cuped,
    holm,
    sample_ratio,
    two_proportions,
    welch,
)
from .variants import Variants, choose

MIN_CONVERTING = 150  # users with the event, per group, before a metric gets a verdict
LIFT_MIN_USERS = 100  # the daily lift is drawn once both groups have this many users (earlier it is noise)
SUSPICIOUS = 0.5  # a relative change beyond ±50% is flagged
ALPHA = 0.05
BETTER, WORSE, NO_CHANGE, NOT_ENOUGH, UNTRUSTED, NO_VARIATION = (
    "better", "worse", "no detectable change", "not enough data", "results not trustworthy (SRM)",
    "no variation to compare")


@dataclass(frozen=True)
class MetricResult:
    metric: Metric
    comparison: Comparison
    users: tuple[int, int]  # control, test
    converting: tuple[int, int]  # users with at least one event
    adjusted_p: float | None  # Holm across the judged metrics; None when not judged
    verdict: str
    suspicious: bool
    test_name: str
    narrower: float | None = None  # CUPED: how much narrower the interval became (0.3 = 30%)
    same_for_everyone: str = ""  # no variation: what every user has, in words

    @property
    def sentence(self) -> str:
        """ "Support requests: no detectable change, −1.2% (−4.6% … +2.2%)"."""
        if self.verdict == NO_VARIATION:
            return f"{self.metric.label}: {NO_VARIATION}: {self.same_for_everyone}."
        c = self.comparison
        numbers = (f", {_percent(c.relative)} ({_percent(c.relative_low)} … {_percent(c.relative_high)})"
                   if c.tested and np.isfinite(c.relative) else "")
        flag = " Suspiciously large: check the split and the logging before trusting it." if self.suspicious else ""
        return f"{self.metric.label}: {self.verdict}{numbers}.{flag}"


@dataclass(frozen=True)
class Summary:
    srm: SampleRatio
    results: tuple[MetricResult, ...]
    cuped: bool
    variants: Variants

    @property
    def trustworthy(self) -> bool:
        return self.srm.status != "red"


@dataclass(frozen=True)
class _Compared:
    comparison: Comparison
    test_name: str
    converting: tuple[int, int]
    narrower: float | None = None
    same_for_everyone: str = ""


def _percent(value: float) -> str:
    return f"{value:+.1%}".replace("-", "\u2212")


def summarize(users: pa.Table, metrics: tuple[Metric, ...], *, variants: Variants | None = None,
              planned_test_share: float = 0.5, use_cuped: bool = False) -> Summary:
    """Every metric compared and judged (see the module's docstring for the order).

    ``variants`` is the compared pair (default: the variants named control and test, refused with a
    VariantError if the users do not have both); other variants' users are left out.
    """
    variants = variants or choose(users.column("variant"))
    users = variants.compared(users)
    test = variants.is_test(users.column("variant"))
    sizes = (int((~test).sum()), int(test.sum()))
    srm = sample_ratio(list(sizes), [1 - planned_test_share, planned_test_share])
    compared = [_compare(users, test, index, metric, use_cuped) for index, metric in enumerate(metrics)]
    judged = [i for i, item in enumerate(compared) if item.comparison.tested]
    adjusted = dict(zip(judged, holm([compared[i].comparison.p_value for i in judged]), strict=True))
    results = []
    for index, item in enumerate(compared):
        c = item.comparison
        results.append(MetricResult(metrics[index], c, sizes, item.converting, adjusted.get(index),
                                    _verdict(metrics[index], item, adjusted.get(index), srm),
                                    c.tested and abs(c.relative) > SUSPICIOUS, item.test_name, item.narrower,
                                    item.same_for_everyone))
    return Summary(srm, tuple(results), use_cuped, variants)


def _verdict(metric: Metric, item: _Compared, adjusted_p: float | None, srm: SampleRatio) -> str:
    if item.same_for_everyone:
        return NO_VARIATION
    if srm.status == "red":
        return UNTRUSTED
    if adjusted_p is None:
        return NOT_ENOUGH
    if adjusted_p >= ALPHA:
        return NO_CHANGE
    return BETTER if (item.comparison.difference > 0) == metric.higher_is_better else WORSE


def _compare(users: pa.Table, test: np.ndarray, index: int, metric: Metric, use_cuped: bool) -> _Compared:
    """One metric's test, or its groups' values alone when it has no variation or too few users with the event."""
    counts = np.asarray(users.column(f"n{index}").to_numpy(), dtype=float)
    values = counts if metric.kind == MEAN else (counts > 0).astype(float)
    converting = (int((counts[~test] > 0).sum()), int((counts[test] > 0).sum()))
    untested = Comparison.untested(values[~test].mean(), values[test].mean())
    try:
        if metric.kind == MEAN:
            plain = welch(values[~test], values[test], ALPHA)
        else:
            plain = two_proportions(converting[0], int((~test).sum()), converting[1], int(test.sum()), ALPHA)
    except NoVariationError:
        return _Compared(untested, metric.test_name, converting, same_for_everyone=_same(metric, untested))
    if min(converting) < MIN_CONVERTING:
        return _Compared(untested, metric.test_name, converting)
    if not use_cuped:
        return _Compared(plain, metric.test_name, converting)
    before = np.asarray(users.column(f"b{index}").to_numpy(), dtype=float)
    before = before if metric.kind == MEAN else (before > 0).astype(float)
    adjusted, _ = cuped(values, before)
    try:
        reduced = welch(adjusted[~test], adjusted[test], ALPHA)
    except NoVariationError:  # the pre-period explains every user's value: nothing left to reduce, keep the plain test
        return _Compared(plain, metric.test_name, converting)
    narrower = 1 - (reduced.high - reduced.low) / (plain.high - plain.low) if plain.high > plain.low else 0.0
    return _Compared(reduced, "Welch's t-test on CUPED-adjusted values", converting, float(narrower))


def _same(metric: Metric, untested: Comparison) -> str:
    """What every user has when nothing varies: "every user in both groups did app_open"."""
    control, test = untested.control, untested.test
    if metric.kind == MEAN:
        if control == test:
            return f"{metric.unit}: {_plain(control)} for every user in both groups"
        return (f"{metric.unit}: {_plain(control)} for every user in control and {_plain(test)} for every user "
                "in test")
    if control == test:
        return f"{'every user in both groups' if control else 'no user in either group'} did {metric.event}"
    did, did_not = ("control", "test") if control else ("test", "control")
    return f"every user in {did} did {metric.event} and no user in {did_not}"


def _plain(value: float) -> str:
    """12,345 or 2.5 as a person writes it (``:g`` would write 1e+06)."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4f}".rstrip("0")


def cumulative_lift(users: pa.Table, metrics: tuple[Metric, ...],
                    variants: Variants | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Relative lift (test / control − 1) of each metric as the days went by, from the first assignment on.

    Means: events so far per user assigned so far (from each user's event days, ``d<i>``); shares:
    users with the event so far (their first day, ``f<i>``) per user assigned so far. ``variants`` as in
    :func:`summarize`.
    """
    variants = variants or choose(users.column("variant"))
    users = variants.compared(users)
    test = variants.is_test(users.column("variant"))
    assigned = _day_numbers(users.column("assigned_at").cast(pa.timestamp("s")).cast(pa.date32()))
    seen = [_day_numbers(users.column(f"f{index}")) for index in range(len(metrics))]
    first = int(assigned.min())
    axis = np.arange(first, max([int(assigned.max()), *(int(days.max()) for days in seen)]) + 1)
    sizes = [np.cumsum(_per_day(assigned[group], axis)) for group in (~test, test)]
    lifts = {}
    for index, metric in enumerate(metrics):
        if metric.kind == MEAN:
            days = users.column(f"d{index}").combine_chunks()
            owner = test[pc.list_parent_indices(days).to_numpy()]
            flat = _day_numbers(pc.list_flatten(days))
            totals = [np.cumsum(_per_day(flat[group], axis)) for group in (~owner, owner)]
        else:
            done = seen[index] > 0  # 1970-01-01: never
            totals = [np.cumsum(_per_day(seen[index][group & done], axis)) for group in (~test, test)]
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = [totals[g] / np.where(sizes[g] >= LIFT_MIN_USERS, sizes[g], np.nan) for g in (0, 1)]
            lifts[metric.key] = rates[1] / np.where(rates[0] > 0, rates[0], np.nan) - 1
    return axis.astype("datetime64[D]"), lifts


def _day_numbers(dates: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Days since 1970-01-01 of Arrow dates, without going through Python or datetime64 objects."""
    return np.asarray(pc.cast(dates, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _per_day(days: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return np.bincount(np.clip(days - axis[0], 0, axis.size - 1), minlength=axis.size)
