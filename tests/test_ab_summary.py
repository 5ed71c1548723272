"""The A/B summary: gates before verdicts, the demo's known effects found (and no others), one workbook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pytest

from analytics import Database, connect, load_settings
from analytics.errors import ParameterError
from analytics.experiments.metrics import BASELINE, MEAN, SHARE, Metric, Window, per_user
from analytics.experiments.summary import (
    BETTER,
    NO_CHANGE,
    NOT_ENOUGH,
    UNTRUSTED,
    cumulative_lift,
    summarize,
)
from analytics.pipeline import execute
from analytics.render import outcome_html
from analytics.reports import ab_summary
from analytics.testing.runs import run_context
from analytics.warehouse import demo
from analytics.warehouse.schema import DEMO_TRUTH, WAREHOUSE

OPENS = Metric("app_activity", "App activity", "app_open", MEAN, True, "app opens per user")
UNSUBSCRIBES = Metric("unsubscribes", "Unsubscribes", "unsubscribe", SHARE, False, "share of users who unsubscribed")


def users_table(control: np.ndarray, test: np.ndarray, before: tuple[np.ndarray, np.ndarray] | None = None) -> pa.Table:
    """Per-user numbers as ``per_user`` returns them, for one metric."""
    counts = np.concatenate([control, test]).astype(np.uint64)
    variant = ["control"] * control.size + ["test"] * test.size
    first = np.where(counts > 0, np.datetime64("2026-10-02"), np.datetime64("1970-01-01"))
    prior = np.concatenate(before) if before else np.zeros(counts.size)
    return pa.table({"user_id": pa.array(np.arange(counts.size), pa.uint64()), "variant": variant,
                     "assigned_at": pa.array(np.full(counts.size, np.datetime64("2026-10-01T10:00:00", "s"))),
                     "n0": counts, "f0": pa.array(first.astype("datetime64[D]")), "b0": prior.astype(np.uint64),
                     "d0": pa.array([[20_728] * int(count) for count in counts], pa.list_(pa.uint16()))})  # 2026-10-02


def test_sample_ratio_mismatch_makes_every_verdict_untrustworthy() -> None:
    rng = np.random.default_rng(1)
    broken = summarize(users_table(rng.poisson(3, 52_000), rng.poisson(3.6, 48_000)), (OPENS,))
    assert broken.srm.status == "red" and not broken.trustworthy
    assert [result.verdict for result in broken.results] == [UNTRUSTED]
    fair = summarize(users_table(rng.poisson(3, 50_000), rng.poisson(3.6, 50_000)), (OPENS,))
    assert fair.srm.status == "ok" and fair.results[0].verdict == BETTER


def test_shares_need_150_converting_users_and_a_huge_uplift_is_flagged() -> None:
    rng = np.random.default_rng(2)
    thin = summarize(users_table((rng.random(5_000) < 0.02).astype(int), (rng.random(5_000) < 0.02).astype(int)),
                     (UNSUBSCRIBES,))
    assert min(thin.results[0].converting) < 150 and thin.results[0].verdict == NOT_ENOUGH
    assert thin.results[0].adjusted_p is None and "not enough data" in thin.results[0].sentence
    wild = summarize(users_table(rng.poisson(1, 5_000), rng.poisson(2, 5_000)), (OPENS,))
    assert wild.results[0].suspicious and "Suspiciously large" in wild.results[0].sentence


def test_cuped_narrows_the_interval_and_keeps_the_effect() -> None:
    rng = np.random.default_rng(3)
    habit = rng.gamma(2.0, 2.0, 20_000)
    before = rng.poisson(habit)
    after = rng.poisson(habit * np.where(np.arange(20_000) >= 10_000, 1.05, 1.0))
    table = users_table(after[:10_000], after[10_000:], (before[:10_000], before[10_000:]))
    plain, reduced = summarize(table, (OPENS,)).results[0], summarize(table, (OPENS,), use_cuped=True).results[0]
    assert reduced.narrower is not None and reduced.narrower > 0.2
    assert reduced.comparison.high - reduced.comparison.low < plain.comparison.high - plain.comparison.low
    assert reduced.comparison.relative == pytest.approx(plain.comparison.relative, abs=0.01)


def test_cumulative_lift_is_the_ratio_of_rates_so_far() -> None:
    table = users_table(np.ones(200, dtype=int), np.full(200, 2))
    axis, lifts = cumulative_lift(table, (OPENS,))
    assert list(axis.astype(str)) == ["2026-10-01", "2026-10-02"]
    assert np.isnan(lifts["app_activity"][0]) and lifts["app_activity"][1] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The default-scale demo's events and experiments (the scale `make run` ships), in a store of its own."""
    tables = demo.generate("default", seed=42)
    measured = pa.compute.is_in(tables["events"].column("event"), pa.array([metric.event for metric in BASELINE]))
    tables["events"] = tables["events"].filter(measured)  # the rest is never read by the summary
    with connect(f"chdb://{tmp_path_factory.mktemp('ab_demo')}") as db:
        for name in ("events", "experiment_assignments", "demo_experiment_effects"):
            spec = {**WAREHOUSE, **DEMO_TRUTH}[name]
            db.create_table(spec)
            db.insert(name, tables[name])
        yield db


def test_the_demo_experiment_with_a_known_effect_is_detected_and_no_other(default_demo: Database) -> None:
    truth = {(row["experiment"], row["event"]): row["relative_effect"]
             for row in default_demo.query_arrow("SELECT * FROM demo_experiment_effects").to_pylist()}
    for experiment in ("new_onboarding", "push_timing"):
        start = default_demo.scalar("SELECT toDate(min(assigned_at)) FROM experiment_assignments "
                                    "WHERE experiment = %(x)s", {"x": experiment})
        users = per_user(default_demo, Window(experiment, start, demo.DEMO_END), BASELINE)
        for use_cuped in (False, True):
            summary = summarize(users, BASELINE, use_cuped=use_cuped)
            assert summary.srm.status in ("ok", "yellow")
            for result in summary.results:
                effect = truth[(experiment, result.metric.event)]
                assert result.verdict == (BETTER if effect > 0 else NO_CHANGE), (experiment, result.sentence)
                if effect:
                    assert result.comparison.relative_low < effect < result.comparison.relative_high + 0.05


def test_the_report_shows_the_gate_first_and_writes_one_workbook(db: Database, tmp_path: Path) -> None:
    query = ab_summary(run_context(db), "new_onboarding", target_event="promo_action", cuped=True)
    outcome = execute(query, run_context(db, load_settings(home=tmp_path)))
    page = outcome_html(outcome)
    assert page.index("notice-") < page.index("class='title'")  # the sample-ratio check comes first
    assert page.count("<img src='data:image/png;base64,") == 2
    assert [result.format for result in outcome.files] == ["xlsx"]
    workbook = openpyxl.load_workbook(outcome.files[0].path, read_only=True)
    assert workbook.sheetnames == ["Summary", "Per metric", "Per user"]
    summary = list(workbook["Summary"].iter_rows(values_only=True))
    header = summary[0]
    assert {"p-value", "p-value, Holm-adjusted", "Verdict", "In words"} <= set(header)
    assert [row[0] for row in summary[1:]] == [metric.label for metric in BASELINE] + ["Target: promo_action"]
    verdicts = {row[header.index("Verdict")] for row in summary[1:]}
    assert verdicts <= {BETTER, "worse", NO_CHANGE, NOT_ENOUGH, UNTRUSTED}
    users = list(workbook["Per user"].iter_rows(values_only=True))
    assigned = db.scalar("SELECT uniqExact(user_id) FROM experiment_assignments WHERE experiment = 'new_onboarding'")
    assert len(users) - 1 == assigned  # users without a single event are counted too
    assert summary[1][header.index("Users in control")] + summary[1][header.index("Users in test")] == assigned


@pytest.mark.parametrize("hostile", ["x' OR 1=1 --", "new_onboarding'; DROP TABLE events; --", "\\'", "ёлочки «»"])
def test_hostile_experiment_names_are_values_not_sql(embedded: Database, hostile: str) -> None:
    with pytest.raises(ParameterError, match="experiment"):
        ab_summary(run_context(embedded), hostile)
    assert embedded.scalar("SELECT count() FROM events") > 0


def test_unknown_target_and_reversed_dates_are_plain_messages(embedded: Database) -> None:
    with pytest.raises(ParameterError, match="target_event"):
        ab_summary(run_context(embedded), "new_onboarding", target_event="drop table")
    with pytest.raises(ParameterError, match="on or before"):
        ab_summary(run_context(embedded), "new_onboarding", start=dt.date(2026, 11, 10), end=dt.date(2026, 11, 1))
