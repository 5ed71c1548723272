"""The A/B summary: gates before verdicts, the demo's known effects found (and no others), one workbook; what it
cannot judge (no variation, an empty group, unknown or extra variants) said in one plain sentence."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analytics import Database, connect, load_settings
from analytics.errors import ParameterError
from analytics.experiments.charts import interval_chart
from analytics.experiments.metrics import BASELINE, MEAN, SHARE, Metric, Window, per_user, target_metric
from analytics.experiments.summary import (
    BETTER,
    NO_CHANGE,
    NO_VARIATION,
    NOT_ENOUGH,
    UNTRUSTED,
    cumulative_lift,
    summarize,
)
from analytics.experiments.variants import VariantError, choose
from analytics.params import FormInvalid, declaration
from analytics.pipeline import RunOutcome, execute, run_report
from analytics.render import outcome_html, table_html
from analytics.reports import ab_summary
from analytics.reports.experiments import READABLE_HEADERS, p_value_words, summary_table
from analytics.runner import NotebookFailed, run_notebook
from analytics.testing.runs import run_context
from analytics.warehouse import demo
from analytics.warehouse.schema import DEMO_TRUTH, WAREHOUSE

from .conftest import REPO

OPENS = Metric("app_activity", "App activity", "app_open", MEAN, True, "app opens per user")
UNSUBSCRIBES = Metric("unsubscribes", "Unsubscribes", "unsubscribe", SHARE, False, "share of users who unsubscribed")


def users_table(control: np.ndarray, test: np.ndarray, before: tuple[np.ndarray, np.ndarray] | None = None,
                names: tuple[str, str] = ("control", "test")) -> pa.Table:
    """Per-user numbers as ``per_user`` returns them, for one metric."""
    counts = np.concatenate([control, test]).astype(np.uint64)
    variant = [names[0]] * control.size + [names[1]] * test.size
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


TARGET = target_metric("app_open")  # a share of users, higher is better


@pytest.mark.parametrize(("metric", "control", "test", "words"), [
    (TARGET, np.ones(3_000, dtype=int), np.full(3_000, 2), "every user in both groups did app_open"),
    (TARGET, np.zeros(3_000, dtype=int), np.zeros(3_000, dtype=int), "no user in either group did app_open"),
    (OPENS, np.full(3_000, 2), np.full(3_000, 2), "app opens per user: 2 for every user in both groups"),
], ids=["everyone did the target", "all zeros", "the same count for everyone"])
def test_a_metric_without_variation_says_so_and_gets_no_verdict(metric: Metric, control: np.ndarray, test: np.ndarray,
                                                                 words: str) -> None:
    rng = np.random.default_rng(4)
    table = users_table(control, test)
    table = table.append_column("n1", pa.array(np.concatenate([rng.poisson(3, 3_000), rng.poisson(3.6, 3_000)]),
                                                pa.uint64()))
    summary = summarize(table, (metric, OPENS))
    constant, varying = summary.results
    assert constant.verdict == NO_VARIATION and constant.adjusted_p is None and not constant.suspicious
    assert constant.sentence == f"{metric.label}: no variation to compare: {words}."
    assert not constant.comparison.tested and np.isnan(constant.comparison.relative_low)
    assert varying.verdict == BETTER and varying.adjusted_p == varying.comparison.p_value  # alone in the correction
    row = summary_table(summary).to_pylist()[0]
    assert row["verdict"] == NO_VARIATION and row["p_value"] is None and row["relative_low_pct"] is None


def test_no_variation_is_said_even_when_the_split_is_broken() -> None:
    broken = summarize(users_table(np.ones(52_000, dtype=int), np.ones(48_000, dtype=int)), (TARGET,))
    assert broken.srm.status == "red" and broken.results[0].verdict == NO_VARIATION


def test_not_enough_data_shows_neither_a_change_an_interval_nor_a_flag() -> None:
    rng = np.random.default_rng(5)
    thin = summarize(users_table((rng.random(5_000) < 0.01).astype(int), (rng.random(5_000) < 0.03).astype(int)),
                     (UNSUBSCRIBES,))  # about 50 and 150 users did it: a tripling, on too few users
    result = thin.results[0]
    assert result.verdict == NOT_ENOUGH and not result.suspicious
    assert result.sentence == "Unsubscribes: not enough data."
    row = summary_table(thin).to_pylist()[0]
    assert row["suspicious"] == "" and row["relative_pct"] is None
    assert row["relative_low_pct"] is None and row["difference_low"] is None and row["p_value"] is None
    assert row["control"] == pytest.approx(result.comparison.control)  # the groups' own values stay
    assert interval_chart(thin).startswith(b"\x89PNG")  # a chart without a row to draw


def test_variants_other_than_control_and_test_are_refused_with_their_names_not_guessed() -> None:
    rng = np.random.default_rng(6)
    letters = users_table(rng.poisson(3, 4_000), rng.poisson(3, 4_000), names=("A", "B"))
    with pytest.raises(VariantError) as refused:
        summarize(letters, (OPENS,))
    assert refused.value.name == "control_variant"
    assert str(refused.value) == ("This experiment has no variant named 'control'; its variants are 'A' (4,000 users), "
                                  "'B' (4,000 users). Type the control variant's name here (and the test variant's name "
                                  "under Test variant).")
    chosen = summarize(letters, (OPENS,), variants=choose(letters.column("variant"), "A", "B"))
    assert chosen.results[0].users == (4_000, 4_000) and chosen.results[0].verdict == NO_CHANGE
    with pytest.raises(VariantError, match="must differ"):
        choose(letters.column("variant"), "A", "A")


@pytest.mark.parametrize(("test_users", "field", "words"), [
    (0, "test_variant", "has users in one variant only by 15.11.2026: 'control' (300 users); there is no 'test' group"),
    (1, "test_variant", "'test' has only 1 user by 15.11.2026 in 'x' ('control' (300 users), 'test' (1 user)): too few"),
], ids=["empty", "one user"])
def test_an_empty_group_is_a_plain_refusal_never_a_zero_division(test_users: int, field: str, words: str) -> None:
    table = users_table(np.ones(300, dtype=int), np.ones(test_users, dtype=int))
    with pytest.raises(VariantError) as refused:
        choose(table.column("variant"), experiment="x", by=dt.date(2026, 11, 15))
    assert refused.value.name == field and words in str(refused.value)
    with pytest.raises(VariantError):
        summarize(table, (OPENS, UNSUBSCRIBES))


def test_a_third_variant_is_left_out_and_named_never_counted_as_control() -> None:
    rng = np.random.default_rng(7)
    two = users_table(rng.poisson(3, 3_000), rng.poisson(3.6, 3_000))
    third = users_table(np.array([], dtype=int), rng.poisson(9, 3_000), names=("control", "test_b"))
    table = pa.concat_tables([two, third.set_column(0, "user_id", pa.array(np.arange(6_000, 9_000), pa.uint64()))])
    summary = summarize(table, (OPENS,))
    assert summary.variants.left_out == ("test_b",) and summary.results[0].users == (3_000, 3_000)
    assert summary.results[0].comparison.control == pytest.approx(two.column("n0").to_numpy()[:3_000].mean())
    _, lifts = cumulative_lift(table, (OPENS,))
    assert lifts["app_activity"][-1] == pytest.approx(summary.results[0].comparison.relative)


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The default-scale demo's events and experiments (the scale `make run` ships), in a store of its own."""
    tables = demo.generate("default", seed=42)
    measured = pc.is_in(tables["events"].column("event"), pa.array([metric.event for metric in BASELINE]))
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
    assert workbook.sheetnames == ["Summary", "Details", "Per metric", "Per user"]
    readable = list(workbook["Summary"].iter_rows(values_only=True))
    assert readable[0] == ("Metric", "Control", "Test", "Change", "95% interval of the change",
                           "p-value (Holm-adjusted)", "Verdict")
    assert [row[0] for row in readable[1:]] == [f"{metric.label} ({metric.unit})" for metric in BASELINE] + [
        "Target: promo_action (share of users who did promo_action)"]
    summary = list(workbook["Details"].iter_rows(values_only=True))
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


# --- what the summary cannot judge, end to end: an embedded store with the small demo's events and, beside its
# experiments, four that a real warehouse can hold -------------------------------------------------------------------

AB_NOTEBOOK = REPO / "notebooks" / "analysts" / "ab_summary.ipynb"
OPENED_SINCE = dt.datetime(2026, 10, 5)


def edge_experiments(assignments: pa.Table, events: pa.Table) -> pa.Table:
    """``letters`` (variants A and B), ``three_arms`` (control, test, test_b), ``control_only`` (an empty test group)
    from new_onboarding's users; ``everyone_opens``: only users who opened the app after their assignment."""
    onboarding = assignments.filter(pc.equal(assignments.column("experiment"), "new_onboarding"))
    variant, users = onboarding.column("variant").to_pylist(), onboarding.column("user_id").to_numpy()

    def renamed(rows: pa.Table, experiment: str, variants: list[str]) -> pa.Table:
        return rows.set_column(0, "experiment", pa.array([experiment] * rows.num_rows)).set_column(
            2, "variant", pa.array(variants))

    opened = events.filter(pc.and_(pc.equal(events.column("event"), "app_open"),
                                   pc.greater_equal(events.column("event_time"), pa.scalar(OPENED_SINCE, pa.timestamp("s")))))
    everyone = np.unique(opened.column("user_id").to_numpy())
    parts = [
        renamed(onboarding, "letters", ["A" if name == "control" else "B" for name in variant]),
        renamed(onboarding, "three_arms", [("control", "test", "test_b")[user % 3] for user in users]),
        renamed(onboarding.filter(pc.equal(onboarding.column("variant"), "control")), "control_only",
                [name for name in variant if name == "control"]),
        pa.table({"experiment": ["everyone_opens"] * everyone.size, "user_id": pa.array(everyone, pa.uint64()),
                  "variant": np.where(everyone % 2 == 0, "control", "test").tolist(),
                  "assigned_at": pa.array(np.full(everyone.size, np.datetime64(OPENED_SINCE, "s")))}),
    ]
    return pa.concat_tables([assignments, *(part.cast(assignments.schema) for part in parts)])


@pytest.fixture(scope="module")
def edge_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An embedded store of its own: the small demo's events and experiments, and the four edge experiments."""
    tables = demo.generate("small", seed=42)
    url = f"chdb://{tmp_path_factory.mktemp('ab_edges')}"
    with connect(url) as db:
        for name in ("events", "experiment_assignments"):
            db.create_table(WAREHOUSE[name])
        db.insert("events", tables["events"])
        db.insert("experiment_assignments", edge_experiments(tables["experiment_assignments"], tables["events"]))
    return url


def details(outcome: RunOutcome) -> pa.Table:
    """The workbook's "Details" sheet: every number of the summary (the page shows the readable table)."""
    return outcome.query.sheets[0].data


def run_ab(url: str, home: Path, **values: object) -> RunOutcome:
    """The A/B summary as the form and `analytics run` call it: the notebook's declaration, the one pipeline."""
    with connect(url) as db:
        return run_report(ab_summary, declaration(AB_NOTEBOOK), values, run_context(db, load_settings(home=home)))


REFUSED = {  # experiment: (the field to correct, words of its message)
    "letters": ("control_variant", "'letters' has no variant named 'control'; its variants are 'A' (420 users), "
                                   "'B' (386 users). Type the control variant's name here"),
    "control_only": ("test_variant", "'control_only' has users in one variant only by 15.11.2026: 'control' "
                                     "(420 users); there is no 'test' group to compare it with yet."),
}


@pytest.mark.parametrize("experiment", REFUSED)
def test_unknown_variants_and_an_empty_group_are_refused_beside_their_field(edge_url: str, tmp_path: Path,
                                                                            experiment: str) -> None:
    field, words = REFUSED[experiment]
    with pytest.raises(FormInvalid) as refused:
        run_ab(edge_url, tmp_path, experiment=experiment)
    assert list(refused.value.errors) == [field] and refused.value.errors[field].startswith(words)
    assert not [path for path in (tmp_path / "reports" / "exports").rglob("*") if path.is_file()]


def test_named_variants_a_and_b_give_the_summary_of_the_same_users(edge_url: str, tmp_path: Path) -> None:
    letters = run_ab(edge_url, tmp_path, experiment="letters", control_variant="A", test_variant="B")
    plain = run_ab(edge_url, tmp_path, experiment="new_onboarding")
    assert details(letters).column("in_words") == details(plain).column("in_words")
    assert "(control: 'A', test: 'B')" in letters.query.facts[-1]
    groups = letters.query.sheets[1].data.column("group").to_pylist()
    assert set(groups) == {"A", "B"}


def test_a_third_variant_is_named_above_the_verdicts_and_left_out(edge_url: str, tmp_path: Path) -> None:
    outcome = run_ab(edge_url, tmp_path, experiment="three_arms")
    notice = outcome.query.notices[0]
    assert notice.level == "yellow" and notice.text.startswith("'three_arms' has 3 variants: ")
    assert "compares 'control' (control) with 'test' (test); 'test_b' is left out, counted in neither group" in notice.text
    per_user = outcome.query.sheets[2].data
    assert set(per_user.column("variant").to_pylist()) == {"control", "test"}
    assert details(outcome).column("control_users")[0].as_py() + details(outcome).column(
        "test_users")[0].as_py() == per_user.num_rows
    assert "test_b" in outcome_html(outcome)


def test_a_target_everybody_did_says_no_variation_and_the_rest_are_judged(edge_url: str, tmp_path: Path) -> None:
    outcome = run_ab(edge_url, tmp_path, experiment="everyone_opens", target_event="app_open")
    rows = {row["metric"]: row for row in details(outcome).to_pylist()}
    target = rows["Target: app_open"]
    assert target["verdict"] == NO_VARIATION and target["adjusted_p_value"] is None and target["suspicious"] == ""
    assert target["in_words"] == "Target: app_open: no variation to compare: every user in both groups did app_open."
    assert rows["App activity"]["adjusted_p_value"] is not None
    page = outcome_html(outcome)
    assert "no variation to compare" in page and "Traceback" not in page


@pytest.mark.parametrize(("experiment", "values", "words"), [
    ("letters", {}, REFUSED["letters"][1]),
    ("control_only", {}, REFUSED["control_only"][1]),
    ("three_arms", {}, "&#x27;test_b&#x27; is left out"),
    ("everyone_opens", {"target_event": "app_open"}, "no variation to compare: every user in both groups did app_open"),
])
def test_papermill_runs_say_the_same_sentences_without_a_traceback(edge_url: str, tmp_path: Path, experiment: str,
                                                                   values: dict[str, str], words: str) -> None:
    """As `analytics run` and the scheduler run the notebook: a refusal is one plain line, a run shows its notice."""
    settings = load_settings(db_url=edge_url, home=tmp_path)
    try:
        run = run_notebook(AB_NOTEBOOK, {"experiment": experiment, **values}, settings=settings)
    except NotebookFailed as failed:
        assert failed.ename == "FormInvalid" and failed.cell_index is not None
        assert str(failed).startswith(f"Some values were not accepted: {REFUSED[experiment][0]}: {words}")
        assert experiment in REFUSED
        return
    assert experiment not in REFUSED
    executed = nbformat.read(run.executed, as_version=4)
    outputs = [output for cell in executed.cells for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.get("output_type") == "error"]
    assert any(words in output.get("data", {}).get("text/html", "") for output in outputs)


def test_the_page_table_is_what_a_person_acts_on_without_none_or_e_notation(edge_url: str, tmp_path: Path) -> None:
    outcome = run_ab(edge_url, tmp_path, experiment="everyone_opens", target_event="app_open")
    table = outcome.query.data
    assert table.column_names == list(READABLE_HEADERS) and outcome.query.row_noun is None
    shown = table_html(outcome.preview, outcome.query.headers, outcome.query.shares)  # as the page shows it
    assert not re.search(r"\de-0\d|None|True|False|\(s\)|nan", shown), shown
    rows = {row["metric"].split(" (")[0]: row for row in table.to_pylist()}
    target = rows["Target: app_open"]
    assert target["verdict"] == NO_VARIATION and target["change"] == target["p_value"] == target["interval"] == "—"
    assert target["control"] == target["test"] == "100.0%"
    judged = rows["App activity"]
    assert re.fullmatch(r"[+−]\d+\.\d%", judged["change"]) and " … " in judged["interval"]
    assert re.fullmatch(r"< 0\.001|0\.\d{3}|1\.000", judged["p_value"])


@pytest.mark.parametrize(("p", "words"), [(5.792730e-07, "< 0.001"), (0.0009999, "< 0.001"), (0.001, "0.001"),
                                          (0.0345, "0.035"), (1.0, "1.000"), (None, "—"), (float("nan"), "—")])
def test_p_values_in_words(p: float | None, words: str) -> None:
    assert p_value_words(p) == words
