"""Monitoring reports: scan a group of checks, show the episodes, and (when scheduled) alert about them.

One function serves three uses of the same notebook: a person opening it sees what is anomalous
now; the scheduler runs it with ``send_alerts`` on; ``backtest_days`` replays the detector over
the past days and lists what it would have alerted, so a threshold is tuned before it floods a channel.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyarrow as pa

from ..alerts import Alert, alert_id, deliver
from ..context import Job, RunContext
from ..errors import ParameterError
from ..monitoring import GROUPS, run_checks
from ..monitoring.alerting import (
    TOGETHER_WORDS,
    Policy,
    describe,
    incidents,
    messages,
    plan_alerts,
    read_state,
    started_together,
    write_state,
)
from ..monitoring.chart import episode_chart, episode_png, episode_title
from ..monitoring.detector import Episode, learning
from ..monitoring.freshness import STALE, Freshness, plan_freshness
from ..monitoring.scan import Scan
from ..monitoring.series import TABLES
from ..results import Notice
from ..words import counted
from .base import Chart, ReportQuery, WritePlan

HEADERS = {"check": "Check", "metric": "Metric", "dimension": "Which", "direction": "Direction", "since": "Since (UTC)",
           "until": "Last anomalous point", "observed": "Observed", "expected": "Usually", "low": "Expected from",
           "high": "Expected to", "change": "Change, %", "ongoing": "Status"}


SENSITIVITY = {"normal": 1.0, "strict": 1.5, "loose": 0.7}  # scales the threshold and the minimum change
CHARTS_SHOWN = 6  # episodes drawn on the page, open ones first; the table lists them all


def monitoring(ctx: RunContext, checks: str = "events", window_hours: int = 48, sensitivity: str = "normal",
               send_alerts: bool = False, backtest_days: int = 0) -> ReportQuery | WritePlan:
    """The anomaly episodes of a group of checks over the last hours (or, as a backtest, the last days).

    With ``send_alerts`` (a scheduled run) the alerts are planned from the episodes and sent by the commit,
    after Cancel is checked and outside the read snapshot; the episode state is written only once they went.
    """
    db = ctx.db
    if checks not in GROUPS:
        raise ParameterError("checks", checks, f"one of {', '.join(GROUPS)}")
    if sensitivity not in SENSITIVITY:
        raise ParameterError("sensitivity", sensitivity, f"one of {', '.join(SENSITIVITY)}")
    window = dt.timedelta(days=backtest_days) if backtest_days else dt.timedelta(hours=window_hours)
    scans = run_checks(db, GROUPS[checks], window=window, sensitivity=SENSITIVITY[sensitivity])
    series = sum(len(scan.frame) for scan in scans)
    facts = [f"{counted(len(scans), 'check')}, {series:,} series, judged up to {scans[0].until:%d.%m.%Y %H:%M} UTC "
             "(the period still being filled is left out)."]
    facts += _learning_fact(scans)
    calm = ""  # said once, under the empty result's own line, not again as a fact
    if backtest_days:
        table, headers, noun = _message_table(scans)
        episodes = sum(len(scan.episodes) for scan in scans)
        facts.append(f"Backtest: {counted(table.num_rows, 'message')} in the last {counted(backtest_days, 'day')} would "
                     f"have been sent ({counted(episodes, 'episode')}: a message is one incident, whichever checks and "
                     "series saw it).")
        stale: list[Freshness] = []
    else:
        table, headers, noun = _episode_table(scans), HEADERS, ("episode", "episodes")
        stale = [fresh for fresh in freshness(scans).values() if fresh.stale]
        if not table.num_rows:
            calm = (f"Nothing anomalous up to {scans[0].until:%d.%m.%Y %H:%M} UTC: every series stayed within its "
                    "expected range.")  # "up to": with stale data, calm only means calm until the data stops
        elif send_alerts and ctx.in_app:  # the last guard: a kernel of the app never alerts, whatever reached it
            raise ParameterError("send_alerts", True, "off in the app: only the scheduled runs send alerts")
    title = (f"What the {checks} monitoring would have alerted in the last {backtest_days} days" if backtest_days
             else f"Anomalies in {checks} over the last {window_hours} hours")
    charts = _episode_charts(scans)
    shown = sum(len(scan.episodes) for scan in scans)
    if shown > len(charts):
        facts.insert(1, f"The charts show {len(charts)} of the {shown:,} episodes, open ones first; "
                        + ("the messages below cover all." if backtest_days else "the table lists all."))
    result = ReportQuery(name=f"monitoring_{checks}", title=title, sql="", data=table, headers=headers, facts=facts,
                         key_params={"checks": checks}, charts=charts, row_noun=noun,
                         shares=RANGE if all(scan.check.settings.kind == "ratio" for scan in scans) else (),
                         empty_text=calm, notices=tuple(Notice("yellow", fresh.words()) for fresh in stale))
    if not send_alerts or backtest_days:
        return result
    return _alert_plan(ctx, checks, scans, result)


def freshness(scans: list[Scan], now: dt.datetime | None = None) -> dict[str, Freshness]:
    """Per table read: its newest data against the shortest delay the checks reading it allow."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    by_table: dict[str, list[Scan]] = {}
    for scan in scans:
        by_table.setdefault(TABLES[scan.check.source], []).append(scan)
    return {table: Freshness(table, max(scan.newest for scan in group), min(scan.check.expected_delay for scan in group),
                             now) for table, group in by_table.items()}


def _episode_table(scans: list[Scan]) -> pa.Table:
    """One row per episode of every check: what the detector sees now."""
    rows = [{"check": scan.check.name, "metric": episode.metric, "dimension": episode.dimension,
             "direction": episode.direction, "since": episode.start, "until": episode.end,
             **_rounded(episode, scan.check.settings.kind == "ratio"),
             "change": round(100 * episode.change, 1) if episode.expected else None,
             "ongoing": _status(episode)}
            for scan in scans for episode in scan.episodes]
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("check", pa.string()), ("metric", pa.string()), ("dimension", pa.string()), ("direction", pa.string()),
        ("since", pa.timestamp("s")), ("until", pa.timestamp("s")), ("observed", pa.float64()),
        ("expected", pa.float64()), ("low", pa.float64()), ("high", pa.float64()), ("change", pa.float64()),
        ("ongoing", pa.string())]))


MESSAGE_HEADERS = {"opened": "Opened (UTC)", "title": "Message", "series": "Series", "checks": "Seen by",
                   "closed": "Last anomalous point", "outcome": "How it ended", "episodes": "Episodes"}


def _message_table(scans: list[Scan]) -> tuple[pa.Table, dict[str, str], tuple[str, str]]:
    """One row per message the backtest would have sent: its incidents, the series and the checks it covers."""
    check_of = {id(episode): scan.check.name for scan in scans for episode in scan.episodes}
    order = {scan.check.name: place for place, scan in enumerate(scans)}  # hourly before daily, as the group lists
    quiet = max([scan.check.quiet_before_resolved for scan in scans] + [dt.timedelta(0)])
    rows = []
    for sent in messages([episode for scan in scans for episode in scan.episodes], quiet):
        names = list(dict.fromkeys(f"{episode.metric}: {episode.dimension}" for episode in sent))
        last = max(sent, key=lambda episode: episode.end)
        outcome = ("still open" if any(episode.ongoing for episode in sent)
                   else "settled as a new level" if last.settled else "back to normal")
        first = sent[0]
        title = (describe(first, "")[0].removesuffix(" ()") if len(names) == 1
                 else f"{len(names)} metrics moved at once: {', '.join(names[:4])}{'…' if len(names) > 4 else ''}")
        rows.append({"opened": first.start, "title": title, "series": "; ".join(names),
                     "checks": ", ".join(sorted({check_of[id(episode)] for episode in sent}, key=order.__getitem__)),
                     "closed": last.end, "outcome": outcome, "episodes": len(sent)})
    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("opened", pa.timestamp("s")), ("title", pa.string()), ("series", pa.string()), ("checks", pa.string()),
        ("closed", pa.timestamp("s")), ("outcome", pa.string()), ("episodes", pa.int64())]))
    return table, MESSAGE_HEADERS, ("message", "messages")


def _status(episode: Episode) -> str:
    return "settled as a new level" if episode.settled else "still open" if episode.ongoing else "over"


def _episode_charts(scans: list) -> tuple[Chart, ...]:
    """The alert's own picture of each episode (open ones, then the latest), where a person would rather look."""
    found = [(scan, episode) for scan in scans for episode in scan.episodes]
    found.sort(key=lambda pair: (not pair[1].ongoing, -pair[1].end.timestamp()))
    return tuple(Chart(f"{episode_title(episode)} ({scan.check.name}): {_status(episode)}, since "
                       f"{episode.start:%d.%m.%Y %H:%M} UTC", episode_png(scan, episode))
                 for scan, episode in found[:CHARTS_SHOWN])


# Only a headless run (the scheduler, `analytics run`) may turn this on: the app's form has no field for it,
# refuses a link that names it, and runs with it off (see analytics.page).
monitoring.headless_only = ("send_alerts",)  # type: ignore[attr-defined]


RANGE = ("observed", "expected", "low", "high")


def _rounded(episode: Episode, ratio: bool) -> dict[str, float]:
    """A count to 2 decimals (never 1.234568e+04 on a page), a conversion to 4 (0.0305: 3.05% on the page)."""
    digits = 4 if ratio else 2
    return {name: round(getattr(episode, name), digits) for name in RANGE}


def _by_source(scans: list[Scan]) -> dict[str, list[Scan]]:
    """The checks of one source side by side (events per hour and per day): their episodes are one incident."""
    grouped: dict[str, list[Scan]] = {}
    for scan in scans:
        grouped.setdefault(scan.check.source, []).append(scan)
    return grouped


def _learning_fact(scans: list[Scan]) -> list[str]:
    """Series too new to judge (a new event, a new installation): named as learning, so silence is not read as
    "all is well" and a first hour is never alerted as a rise from 0."""
    learners = list(dict.fromkeys(" ".join(filter(None, name)) for scan in scans
                                  for name, new in zip(scan.frame.names, learning(scan.frame.values, scan.check.settings),
                                                       strict=True) if new))
    if not learners:
        return []
    more = f" and {len(learners) - 5:,} more" if len(learners) > 5 else ""
    return [f"Still learning, not judged yet (less than two weeks of history): {', '.join(learners[:5])}"
            f"{more}."]


def _one_message_per_scan(job: str, alerts: list[Alert], state: dict, policy: Policy) -> tuple[list[Alert], dict]:
    """News of several sources starting together (the error spike: events per hour and errors by code) is one
    message, as it is within a source: one moment, one ping. Their incidents point to it, so it is edited when
    they end."""
    incidents_now = [incident for source in state.values() for incident in source.values() if isinstance(incident, dict)]
    start_of = {incident["message"]: dt.datetime.fromisoformat(incident["start"]) for incident in incidents_now
                if "message" in incident and "start" in incident}
    openings = [alert for alert in alerts if alert.kind in ("anomaly", "outage") and alert.id in start_of]
    merged_alerts: list[Alert] = []
    for cluster in started_together(openings, lambda alert: start_of[alert.id], policy.together):
        if len(cluster) < 2:
            continue
        merged = alert_id("outage", job, *sorted(alert.id for alert in cluster))
        lines = tuple(line for alert in cluster
                      for line in ((f"• {alert.title}",) if alert.kind == "anomaly" else alert.lines[1:]))
        merged_alerts.append(Alert(merged, "outage", f"{len(lines)} metrics moved at once", (TOGETHER_WORDS, *lines),
                                   cluster[0].link, chart=next((alert.chart for alert in cluster if alert.chart), ""),
                                   job=job))
        ids = {alert.id for alert in cluster}
        for incident in incidents_now:
            if incident.get("message") in ids:
                incident["message"] = merged
        alerts = [alert for alert in alerts if alert.id not in ids]
    return [*merged_alerts, *alerts], state


def _alert_plan(ctx: RunContext, group: str, scans: list, result: ReportQuery) -> WritePlan:
    """The alerts the episodes call for (new, reminders, resolved), and the commit that sends them."""
    settings = ctx.settings
    job = ctx.job or Job(f"monitoring_{group}")
    folder = settings.reports_dir / "alerts" / "episodes"
    charts = settings.reports_dir / "alerts" / "charts"
    policy = Policy(dt.timedelta(hours=settings.alert_reminder_hours), settings.alert_group_at)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    state, alerts = read_state(folder, job.name), []
    fresh_by_table, was_stale, stale_state = freshness(scans, now), state.pop(STALE, {}), {}
    for table, fresh in fresh_by_table.items():
        planned, still = plan_freshness(job.name, fresh, was_stale.get(table), job.link)
        alerts += planned
        if still:
            stale_state[table] = still
    if stale_state:
        state[STALE] = stale_state
    for source, group in _by_source(scans).items():
        known = state.get(source) or {fingerprint: incident for scan in group  # a state kept per check before
                                      for fingerprint, incident in state.pop(scan.check.name, {}).items()}
        if fresh_by_table[TABLES[source]].stale:
            state[source] = known  # no new data: its incidents wait as they are, judged again when data arrives
            continue
        found, seen_by = incidents([(scan.check.name, scan.episodes) for scan in group])
        scan_of = {id(episode): scan for scan in group for episode in scan.episodes}  # the check that drew it
        planned, state[source] = plan_alerts(
            job.name, source, found, known, now, job.link,
            replace(policy, resolve_after=max(scan.check.quiet_before_resolved for scan in group)),
            lambda episode, name, scan_of=scan_of: str(episode_chart(scan_of[id(episode)], episode, charts, name)),
            seen_by)
        alerts += planned
    alerts, state = _one_message_per_scan(job.name, alerts, state, policy)

    def commit(ctx: RunContext) -> ReportQuery:
        report = deliver(ctx.settings, alerts, job.alert_target)
        write_state(folder, job.name, state)
        if report is None:
            said = "Alerts are off for this run."
        else:
            waiting = f"; {report.waiting} waiting for Slack ({report.error})" if report.waiting else ""
            said = f"Alerts: {len(alerts)} new, {report.sent} delivered{waiting}."
        return replace(result, facts=[*result.facts, said])

    return WritePlan(what=f"{counted(len(alerts), 'alert')} of {job.name}", target=f"alerts:{job.name}", commit=commit,
                     rows=len(alerts), parameters={"checks": group, "target": job.alert_target})
