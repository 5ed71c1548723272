"""The statistics of an A/B summary, each a thin layer over scipy/statsmodels that returns a plain result.

No distribution is written by hand: Welch's t-test is ``scipy.stats.ttest_ind(equal_var=False)`` with
statsmodels' unequal-variance interval; shares are statsmodels' two-proportion z-test (pooled, for the
p-value) with a Wald interval of the difference; the multiple-comparison correction is Holm through
``multipletests``; the sample-ratio check is ``scipy.stats.chisquare`` against the planned split.
Relative differences get a delta-method interval (the ratio of two independent means).

When every user in both groups has the same value (a target event everybody did, or nobody), both
tests divide zero by zero and scipy/statsmodels answer a NaN p-value, which compares as "not below
0.05" nowhere and as a difference of 0 everywhere: a verdict out of nothing. Such data raise
:class:`NoVariationError` instead, before any test runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from ..errors import AnalyticsError

SRM_RED, SRM_YELLOW = 0.001, 0.01  # below the first the split is broken; between them, suspicious
SRM_MIN_USERS = 100  # fewer expected users in a group: the check says nothing rather than something noisy


@dataclass(frozen=True)
class Comparison:
    """Test against control on one metric."""

    control: float
    test: float
    difference: float  # test − control
    low: float  # 95% interval of the difference
    high: float
    relative: float  # difference / control
    relative_low: float
    relative_high: float
    p_value: float

    @classmethod
    def untested(cls, control: float, test: float) -> Comparison:
        """The two groups' values only: no difference, interval or p-value that a reader could take for a finding
        (too few users did the event, or nothing varies)."""
        nan = float("nan")
        return cls(float(control), float(test), nan, nan, nan, nan, nan, nan, nan)

    @property
    def tested(self) -> bool:
        return bool(np.isfinite(self.p_value))


class NoVariationError(AnalyticsError):
    """Every user in both groups has the same value: no test can tell the groups apart."""

    def __init__(self) -> None:
        super().__init__("Every user in both groups has the same value, so there is no variation to compare.")


def _check_sizes(control_users: int, test_users: int) -> None:
    """A test on an empty or one-user group is a caller's bug (the summary refuses such groups first)."""
    if min(control_users, test_users) < 2:
        raise ValueError(f"each group needs at least two users (control {control_users}, test {test_users})")


def _relative(control_mean: float, test_mean: float, control_var: float, test_var: float,
              z: float) -> tuple[float, float, float]:
    """test/control − 1 with a delta-method interval, from the two means and the variances of the means."""
    if control_mean == 0:
        return float("nan"), float("nan"), float("nan")
    ratio = test_mean / control_mean
    spread = abs(ratio) * np.sqrt(test_var / test_mean ** 2 + control_var / control_mean ** 2) if test_mean else \
        np.sqrt(test_var) / abs(control_mean)
    return ratio - 1, ratio - 1 - z * spread, ratio - 1 + z * spread


def welch(control: Sequence[float] | np.ndarray, test: Sequence[float] | np.ndarray, alpha: float = 0.05) -> Comparison:
    """Per-user means: Welch's t-test and the unequal-variance interval of the difference.

    Raises NoVariationError when both groups are constant (a zero standard error gives scipy a NaN)."""
    control, test = np.asarray(control, dtype=float), np.asarray(test, dtype=float)
    _check_sizes(control.size, test.size)
    if np.ptp(control) == 0 and np.ptp(test) == 0:
        raise NoVariationError()
    p_value = float(stats.ttest_ind(test, control, equal_var=False).pvalue)
    low, high = CompareMeans(DescrStatsW(test), DescrStatsW(control)).tconfint_diff(alpha=alpha, usevar="unequal")
    z = stats.norm.ppf(1 - alpha / 2)
    relative = _relative(control.mean(), test.mean(), control.var(ddof=1) / control.size, test.var(ddof=1) / test.size, z)
    return Comparison(float(control.mean()), float(test.mean()), float(test.mean() - control.mean()), float(low),
                      float(high), *map(float, relative), p_value)


def two_proportions(control_hits: int, control_users: int, test_hits: int, test_users: int,
                    alpha: float = 0.05) -> Comparison:
    """Shares of users: the pooled two-proportion z-test and a Wald interval of the difference.

    Raises NoVariationError when in each group either every user or none has the event."""
    _check_sizes(control_users, test_users)
    if control_hits in (0, control_users) and test_hits in (0, test_users):
        raise NoVariationError()
    _, p_value = proportions_ztest([test_hits, control_hits], [test_users, control_users])
    low, high = confint_proportions_2indep(test_hits, test_users, control_hits, control_users, method="wald",
                                           compare="diff", alpha=alpha)
    control_share, test_share = control_hits / control_users, test_hits / test_users
    z = stats.norm.ppf(1 - alpha / 2)
    relative = _relative(control_share, test_share, control_share * (1 - control_share) / control_users,
                         test_share * (1 - test_share) / test_users, z)
    return Comparison(control_share, test_share, test_share - control_share, float(low), float(high),
                      *map(float, relative), float(p_value))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the given order."""
    return [float(value) for value in multipletests(list(p_values), method="holm")[1]] if len(p_values) else []


@dataclass(frozen=True)
class SampleRatio:
    p_value: float | None  # None: too few users to judge
    status: str  # "red", "yellow", "ok" or "skipped"
    observed: tuple[int, ...]
    expected: tuple[float, ...]


def sample_ratio(observed: Sequence[int], planned: Sequence[float]) -> SampleRatio:
    """Chi-square of the group sizes against the planned split (shares summing to 1)."""
    counts = np.asarray(observed, dtype=float)
    expected = counts.sum() * np.asarray(planned, dtype=float) / np.sum(planned)
    if expected.min() < SRM_MIN_USERS:
        return SampleRatio(None, "skipped", tuple(map(int, counts)), tuple(map(float, expected)))
    p_value = float(stats.chisquare(counts, expected).pvalue)
    status = "red" if p_value < SRM_RED else "yellow" if p_value < SRM_YELLOW else "ok"
    return SampleRatio(p_value, status, tuple(map(int, counts)), tuple(map(float, expected)))


def cuped(metric: np.ndarray, before: np.ndarray) -> tuple[np.ndarray, float]:
    """The metric adjusted by its pre-period covariate (CUPED): same mean, less variance. Returns (adjusted, θ)."""
    metric, before = np.asarray(metric, dtype=float), np.asarray(before, dtype=float)
    variance = before.var(ddof=1)
    theta = float(np.cov(metric, before, ddof=1)[0, 1] / variance) if variance > 0 else 0.0
    return metric - theta * (before - before.mean()), theta
