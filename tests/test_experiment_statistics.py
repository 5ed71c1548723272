"""The A/B statistics equal scipy/statsmodels and textbook formulas, are calibrated on simulated A/A tests, and refuse
data on which scipy/statsmodels would answer a NaN p-value."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from analytics.errors import AnalyticsError
from analytics.experiments.tests import NoVariationError, cuped, holm, sample_ratio, two_proportions, welch

RNG = np.random.default_rng(20261201)


def test_welch_equals_the_textbook_formulas() -> None:
    control, test = RNG.exponential(2.0, 3_000), RNG.exponential(2.2, 2_500)
    result = welch(control, test)
    se = np.sqrt(control.var(ddof=1) / control.size + test.var(ddof=1) / test.size)
    df = se ** 4 / ((control.var(ddof=1) / control.size) ** 2 / (control.size - 1)
                    + (test.var(ddof=1) / test.size) ** 2 / (test.size - 1))
    difference = test.mean() - control.mean()
    t = stats.t.ppf(0.975, df)
    assert result.difference == pytest.approx(difference, abs=1e-12)
    assert (result.low, result.high) == pytest.approx((difference - t * se, difference + t * se), abs=1e-9)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(difference / se), df), abs=1e-9)


def test_two_proportions_equal_the_textbook_formulas() -> None:
    result = two_proportions(480, 10_000, 560, 10_100)
    p1, p2 = 480 / 10_000, 560 / 10_100
    pooled = (480 + 560) / 20_100
    z = (p2 - p1) / np.sqrt(pooled * (1 - pooled) * (1 / 10_000 + 1 / 10_100))
    wald = np.sqrt(p1 * (1 - p1) / 10_000 + p2 * (1 - p2) / 10_100)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), abs=1e-9)
    assert (result.low, result.high) == pytest.approx((p2 - p1 - 1.959963984540054 * wald,
                                                       p2 - p1 + 1.959963984540054 * wald), abs=1e-9)
    assert result.relative == pytest.approx(p2 / p1 - 1, abs=1e-12)
    assert result.relative_low < result.relative < result.relative_high


def test_holm_adjusts_in_order() -> None:
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5], abs=1e-12)
    assert holm([]) == []


def test_the_sample_ratio_check_is_red_on_52_48_and_quiet_on_a_fair_split() -> None:
    assert sample_ratio([52_000, 48_000], [0.5, 0.5]).status == "red"
    fair = RNG.binomial(100_000, 0.5)
    assert sample_ratio([fair, 100_000 - fair], [0.5, 0.5]).status == "ok"
    assert sample_ratio([60, 40], [0.5, 0.5]).status == "skipped"
    assert sample_ratio([50_500, 49_500], [0.5, 0.5]).status == "yellow"  # p ≈ 0.0016


def test_cuped_keeps_the_mean_and_narrows_the_spread() -> None:
    before = RNG.gamma(2.0, 3.0, 20_000)
    metric = 0.8 * before + RNG.normal(0, 1, 20_000)
    adjusted, theta = cuped(metric, before)
    assert adjusted.mean() == pytest.approx(metric.mean(), abs=1e-9)
    assert theta == pytest.approx(0.8, abs=0.02) and adjusted.var() < 0.2 * metric.var()


def test_simulated_aa_tests_are_calibrated() -> None:
    """1,000 A/A tests: the 95% interval covers zero 93–97% of the time; p < 0.05 fires 3–7% of the time."""
    rng = np.random.default_rng(7)
    means = [welch(rng.exponential(1.0, 400), rng.exponential(1.0, 400)) for _ in range(1_000)]
    shares = [two_proportions(int(rng.binomial(2_000, 0.1)), 2_000, int(rng.binomial(2_000, 0.1)), 2_000)
              for _ in range(1_000)]
    for results in (means, shares):
        covered = np.mean([r.low <= 0 <= r.high for r in results])
        fired = np.mean([r.p_value < 0.05 for r in results])
        assert 0.93 <= covered <= 0.97 and 0.03 <= fired <= 0.07


def _quietly(test: Callable[[], Any]) -> Any:
    """What scipy/statsmodels answer on constant data (they warn, and the suite turns warnings into errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return test()


@pytest.mark.parametrize(("control", "test"), [(np.ones(500), np.ones(480)), (np.zeros(500), np.zeros(480)),
                                               (np.full(500, 3.0), np.full(480, 4.0))],
                         ids=["every user once", "nobody", "constant but different"])
def test_welch_refuses_groups_without_variation_where_scipy_answers_nan(control: np.ndarray, test: np.ndarray) -> None:
    scipy = _quietly(lambda: stats.ttest_ind(test, control, equal_var=False))
    assert not np.isfinite(scipy.statistic)  # 0/0 or x/0: a NaN (or 0) p-value that used to become a verdict
    with pytest.raises(NoVariationError, match="no variation to compare") as refused:
        welch(control, test)
    assert isinstance(refused.value, AnalyticsError)  # a plain message, not a traceback


@pytest.mark.parametrize(("control_hits", "test_hits"), [(500, 480), (0, 0), (0, 480)],
                         ids=["every user did it", "nobody did it", "all in test, none in control"])
def test_two_proportions_refuse_groups_without_variation(control_hits: int, test_hits: int) -> None:
    if control_hits == test_hits == 0 or (control_hits, test_hits) == (500, 480):
        assert np.isnan(_quietly(lambda: proportions_ztest([test_hits, control_hits], [480, 500]))[1])
    with pytest.raises(NoVariationError):
        two_proportions(control_hits, 500, test_hits, 480)


def test_one_constant_group_is_still_a_test_and_equals_scipy_and_statsmodels() -> None:
    """Nobody in control did it, some in test did: the groups differ and the tests say by how much."""
    control, test = np.zeros(1_000), (RNG.random(1_000) < 0.05).astype(float)
    means = welch(control, test)
    assert means.p_value == pytest.approx(stats.ttest_ind(test, control, equal_var=False).pvalue, rel=1e-12)
    assert np.isfinite(means.low) and means.low < means.difference < means.high
    shares = two_proportions(0, 1_000, int(test.sum()), 1_000)
    assert shares.p_value == pytest.approx(proportions_ztest([int(test.sum()), 0], [1_000, 1_000])[1], rel=1e-12)
    assert shares.tested and np.isnan(shares.relative)  # no change relative to nothing


def test_cuped_leaves_a_constant_metric_constant_so_it_is_refused_too() -> None:
    adjusted, theta = cuped(np.ones(1_000), RNG.poisson(3, 1_000).astype(float))
    assert theta == 0 and np.ptp(adjusted) == 0
    with pytest.raises(NoVariationError):
        welch(adjusted[:500], adjusted[500:])


def test_a_test_on_an_empty_group_is_a_callers_bug_never_a_zero_division() -> None:
    with pytest.raises(ValueError, match="at least two users"):
        two_proportions(0, 0, 10, 100)
    with pytest.raises(ValueError, match="at least two users"):
        welch([], [1.0, 2.0])
