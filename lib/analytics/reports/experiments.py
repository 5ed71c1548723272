"""The A/B summary report: gates, verdicts in plain words, two charts, and one workbook with everything.

The page shows the sample-ratio check first (red, yellow or green), then one sentence per metric
("Support requests: no detectable change, −1.2% (−4.6% … +2.2%)"), the summary table of what a person acts
on (metric, control, test, change, p-value as "< 0.001", verdict), the interval plot and the cumulative
lift. The compared variants are the form's control and test (``control`` and ``test`` unless typed
otherwise); what cannot be compared is refused beside the field that chooses it,
and further variants are named in a notice above the verdicts. The XLSX holds that summary, the details
(every number: raw and Holm-adjusted p-values, intervals, users), a sheet per group and metric, and the
per-user numbers behind them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from ..context import RunContext
from ..db import Database
from ..errors import ParameterError
from ..experiments.charts import interval_chart, lift_chart
from ..experiments.metrics import BASELINE, MEAN, Metric, Window, per_user, target_metric
from ..experiments.summary import MIN_CONVERTING, NO_VARIATION, Summary, cumulative_lift, summarize
from ..experiments.variants import CONTROL, TEST, Variants, choose, listed
from ..home.headlines import experiment_headline
from ..progress import say
from ..words import counted
from .base import Chart, Notice, ReportQuery

NO_TARGET = "none"
SUMMARY_HEADERS = {
    "metric": "Metric", "measure": "Measured as", "verdict": "Verdict", "in_words": "In words",
    "control": "Control", "test": "Test", "difference": "Difference", "difference_low": "Difference from",
    "difference_high": "Difference to", "relative_pct": "Change, %", "relative_low_pct": "Change from, %",
    "relative_high_pct": "Change to, %", "p_value": "p-value", "adjusted_p_value": "p-value, Holm-adjusted",
    "test_name": "Statistical test", "control_users": "Users in control", "test_users": "Users in test",
    "control_converting": "Control users with the event", "test_converting": "Test users with the event",
    "suspicious": "Suspicious (beyond ±50%)", "cuped_narrower_pct": "Interval narrower with CUPED, %"}
READABLE_HEADERS = {"metric": "Metric", "control": "Control", "test": "Test", "change": "Change",
                    "interval": "95% interval of the change", "p_value": "p-value (Holm-adjusted)", "verdict": "Verdict"}
NONE = "—"  # a cell with no number (an untested metric has no change or p-value): a dash, never "None"
GROUP_HEADERS = {"metric": "Metric", "group": "Group", "users": "Users", "users_with_event": "Users with the event",
                 "events": "Events", "value": "Value", "std": "Standard deviation"}
SRM_WORDS = {
    "red": "Sample ratio mismatch: the groups' sizes do not fit the planned split (p {p}), so the assignment "
           "or the logging is broken. Do not act on these results; every verdict below says so.",
    "yellow": "Sample ratio warning: the groups' sizes are a little off the planned split (p {p}). Check the "
              "assignment before trusting the results.",
    "ok": "Sample ratio check passed: the groups' sizes fit the planned split (p {p}).",
    "skipped": "Sample ratio check skipped: too few users to judge the split yet.",
}


def ab_summary(ctx: RunContext, experiment: str = "", start: dt.date | None = None, end: dt.date | None = None,
               target_event: str = NO_TARGET, planned_test_percent: int = 50, cuped: bool = False,
               cuped_days: int = 14, control_variant: str = CONTROL, test_variant: str = TEST) -> ReportQuery:
    """Test against control on the baseline metrics (and a target event), with gates and plain verdicts."""
    db = ctx.db
    experiment = experiment or _latest_experiment(db)
    window = _window(db, experiment, start, end, cuped_days)
    metrics = BASELINE + ((target_metric(target_event),) if target_event != NO_TARGET else ())
    say(f"Counting each user's events in {experiment}")
    users = per_user(db, window, metrics)
    if users.num_rows == 0:
        raise ParameterError("experiment", experiment, f"an experiment with users assigned by {window.end:%d.%m.%Y}")
    variants = choose(users.column("variant"), control_variant, test_variant, experiment=experiment, by=window.end)
    users = variants.compared(users)
    say("Comparing the groups")
    summary = summarize(users, metrics, variants=variants, planned_test_share=planned_test_percent / 100,
                        use_cuped=cuped)
    charts = _charts(summary, users, metrics, variants)
    key = {"experiment": experiment, "start": window.start, "end": window.end}
    return ReportQuery(
        name="ab_summary", title=f"A/B summary of {experiment}, {window.start:%d.%m.%Y}–{window.end:%d.%m.%Y}",
        sql="", data=readable_table(summary), key_params=key, headers=READABLE_HEADERS, label="Summary",
        facts=_facts(summary, users), effective={"experiment": experiment, "start": window.start, "end": window.end},
        formats=("xlsx",), charts=charts, notices=(*_variant_notices(experiment, variants), _srm_notice(summary)),
        row_noun=None, headline=experiment_headline(experiment, window.start, window.end, summary),
        sheets=(ReportQuery(name="ab_details", title="Every number of the summary", sql="",
                            data=summary_table(summary), headers=SUMMARY_HEADERS, label="Details"),
                ReportQuery(name="ab_groups", title="Per group and metric", sql="",
                            data=group_table(users, metrics, variants),
                            headers=GROUP_HEADERS, label="Per metric"),
                ReportQuery(name="ab_users", title="Per user", sql="", data=user_table(users, metrics, cuped),
                            headers=_user_headers(metrics), label="Per user")))


def _charts(summary: Summary, users: pa.Table, metrics: tuple[Metric, ...], variants: Variants) -> tuple[Chart, ...]:
    """The interval plot and the daily lift of the tested metrics only: a thin metric's swings of ±100% are noise
    a reader would take for a finding (the table says "not enough data" instead); none tested, no picture."""
    tested = {result.metric.key for result in summary.results if result.comparison.tested}
    if not tested:
        return ()
    axis, lifts = cumulative_lift(users, metrics, variants)
    shown = {key: lift for key, lift in lifts.items() if key in tested}
    return (Chart("Test against control: each metric's change with its 95% interval", interval_chart(summary)),
            Chart("Lift day by day (cumulative): where the lines settle is the effect",
                  lift_chart(axis, shown, {metric.key: metric.label for metric in metrics})))


def _latest_experiment(db: Database) -> str:
    found = db.scalar("SELECT experiment FROM experiment_assignments ORDER BY assigned_at DESC LIMIT 1")
    if not found:
        raise ParameterError("experiment", "", "an experiment: none has assigned users yet")
    return str(found)


def _window(db: Database, experiment: str, start: dt.date | None, end: dt.date | None, pre_days: int) -> Window:
    """An empty start is the experiment's first assignment day; an empty end, the latest day with events."""
    if start is None:
        first = db.scalar("SELECT toDate(min(assigned_at)) FROM experiment_assignments WHERE experiment = %(x)s"
                          " HAVING count() > 0", {"x": experiment})
        if first is None:
            raise ParameterError("experiment", experiment, "an experiment with assigned users")
        start = first
    if end is None:
        end = db.scalar("SELECT max(event_date) FROM events") or dt.date.today()
    if start > end:
        raise ParameterError("start", start.isoformat(), f"a day on or before the last day ({end:%d.%m.%Y})")
    return Window(experiment, start, end, pre_days)


def _variant_notices(experiment: str, variants: Variants) -> tuple[Notice, ...]:
    """A third variant is named, never silently counted: which two are compared, and how to compare another."""
    if not variants.left_out:
        return ()
    left = ", ".join(f"'{name}'" for name in variants.left_out)
    one = "it" if len(variants.left_out) == 1 else "one of them"
    return (Notice("yellow", f"'{experiment}' has {len(variants.found)} variants: {listed(variants.found)}. This "
                   f"summary compares '{variants.control}' (control) with '{variants.test}' (test); {left} "
                   f"{'is' if len(variants.left_out) == 1 else 'are'} left out, counted in neither group. To compare "
                   f"{one} with the control, type its name under Test variant."),)


def _srm_notice(summary: Summary) -> Notice:
    srm = summary.srm
    shown = p_value_words(srm.p_value)
    text = SRM_WORDS[srm.status].format(p=shown if shown.startswith("<") else f"= {shown}")
    observed = f" Control {srm.observed[0]:,}, test {srm.observed[1]:,}; planned {srm.expected[0]:,.0f} / {srm.expected[1]:,.0f}."
    level = {"ok": "ok", "skipped": "info"}.get(srm.status, srm.status)
    return Notice(level, text + observed)


def _facts(summary: Summary, users: pa.Table) -> list[str]:
    facts = [result.sentence for result in summary.results]
    if any(result.verdict == NO_VARIATION for result in summary.results):
        facts.append("\"No variation to compare\" means every user in both groups has the same value, so no test "
                     "can tell the groups apart: choose a metric on which users differ.")
    if any(result.verdict == "not enough data" for result in summary.results):
        facts.append(f"\"Not enough data\" means fewer than {MIN_CONVERTING} users did the event in a group: wait "
                     "for more users before judging that metric.")
    if summary.cuped:
        narrower = [f"{result.metric.label} {result.narrower:.0%}" for result in summary.results
                    if result.narrower is not None]
        facts.append("Variance reduction (CUPED, from each user's own pre-period) made the intervals narrower: "
                     + ", ".join(narrower) + ".")
    control, test = summary.variants.control, summary.variants.test
    named = "" if (control, test) == (CONTROL, TEST) else f" (control: '{control}', test: '{test}')"
    facts.append(f"{counted(users.num_rows, 'user')}{named}; p-values are Holm-adjusted across the metrics with a verdict.")
    return facts


def readable_table(summary: Summary) -> pa.Table:
    """One row per metric with what a person acts on, as text (the page shows it as written; no 5.79e-07).

    Values are written as the metric is measured (2.41 opens per user, 12.3% of users); the change and its
    interval only for a tested metric, and the p-value Holm-adjusted, the one the verdict used.
    """
    rows = []
    for result in summary.results:
        c, share = result.comparison, result.metric.kind != MEAN
        tested = c.tested and np.isfinite(c.relative)
        rows.append({
            "metric": f"{result.metric.label} ({result.metric.unit})", "control": _value(c.control, share),
            "test": _value(c.test, share), "change": _signed(c.relative) if tested else NONE,
            "interval": f"{_signed(c.relative_low)} … {_signed(c.relative_high)}" if tested else NONE,
            "p_value": p_value_words(result.adjusted_p),
            "verdict": result.verdict + (" (suspiciously large)" if result.suspicious else "")})
    return pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in READABLE_HEADERS]))


def p_value_words(p: float | None) -> str:
    """0.034 as "0.034", anything below a thousandth as "< 0.001", no p-value as a dash."""
    if p is None or not np.isfinite(p):
        return NONE
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _value(value: float, share: bool) -> str:
    if not np.isfinite(value):
        return NONE
    if share:
        return f"{value:.2%}" if 0 < value < 0.01 else f"{value:.1%}"  # 0.35% of users, not 0.3%
    return f"{value:,.2f}"


def _signed(value: float) -> str:
    return f"{value:+.1%}".replace("-", "\u2212")


def summary_table(summary: Summary) -> pa.Table:
    """One row per metric with every number (the workbook's "Details" sheet): analysts' detail, not the page's."""
    rows = []
    for result in summary.results:
        c = result.comparison
        rows.append({
            "metric": result.metric.label, "measure": result.metric.unit, "verdict": result.verdict,
            "in_words": result.sentence, "control": _finite(c.control), "test": _finite(c.test),
            "difference": _finite(c.difference), "difference_low": _finite(c.low), "difference_high": _finite(c.high),
            "relative_pct": _pct(c.relative),
            "relative_low_pct": _pct(c.relative_low), "relative_high_pct": _pct(c.relative_high),
            "p_value": _finite(c.p_value), "adjusted_p_value": result.adjusted_p, "test_name": result.test_name,
            "control_users": result.users[0], "test_users": result.users[1],
            "control_converting": result.converting[0], "test_converting": result.converting[1],
            "suspicious": "yes" if result.suspicious else "",
            "cuped_narrower_pct": _pct(result.narrower) if result.narrower is not None else None})
    return pa.Table.from_pylist(rows)


def _pct(value: float) -> float | None:
    return round(100 * value, 2) if np.isfinite(value) else None


def _finite(value: float) -> float | None:
    """A number for the sheet, or an empty cell where there is none (no events in a group)."""
    return float(value) if np.isfinite(value) else None


def group_table(users: pa.Table, metrics: tuple[Metric, ...], variants: Variants) -> pa.Table:
    """Per group and metric: users, users with the event, events, the compared value and its spread."""
    test = variants.is_test(users.column("variant"))
    rows = []
    for index, metric in enumerate(metrics):
        counts = np.asarray(users.column(f"n{index}").to_numpy(), dtype=float)
        for name, group in ((variants.control, ~test), (variants.test, test)):
            values = counts[group] if metric.kind == MEAN else (counts[group] > 0).astype(float)
            rows.append({"metric": metric.label, "group": name, "users": int(group.sum()),
                         "users_with_event": int((counts[group] > 0).sum()), "events": int(counts[group].sum()),
                         "value": float(values.mean()) if values.size else None,
                         "std": float(values.std(ddof=1)) if values.size > 1 else None})
    return pa.Table.from_pylist(rows)


def user_table(users: pa.Table, metrics: tuple[Metric, ...], with_before: bool) -> pa.Table:
    """The per-user numbers with readable column names: events after assignment (and in the pre-period)."""
    columns = {"user_id": users.column("user_id"), "variant": users.column("variant"),
               "assigned_at": users.column("assigned_at")}
    for index, metric in enumerate(metrics):
        columns[metric.key] = users.column(f"n{index}")
        if with_before:
            columns[f"{metric.key}_before"] = users.column(f"b{index}")
    return pa.table(columns)


def _user_headers(metrics: tuple[Metric, ...]) -> dict[str, str]:
    headers = {"user_id": "User ID", "variant": "Group", "assigned_at": "Assigned at (UTC)"}
    for metric in metrics:
        headers[metric.key] = f"{metric.label}: {metric.event} events"
        headers[f"{metric.key}_before"] = f"{metric.label}: {metric.event} events in the pre-period"
    return headers
