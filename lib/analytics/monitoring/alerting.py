"""From a scan's episodes to alerts: open, remind, resolve, or one grouped message when much breaks at once.

The state of a job's episodes is ``reports/alerts/episodes/<job>.json`` (fingerprint → when it opened,
its message, reminders sent). Alert ids come from the episode (fingerprint and start), so running a
job twice queues nothing new; the state is written after the alerts are queued, so a kill in between
only means the next run recomputes the same ids.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..alerts import Alert, alert_id
from ..exports.files import atomic_file
from ..words import counted
from .detector import Episode

T = TypeVar("T")


@dataclass(frozen=True)
class Policy:
    # the first reminder after this long, each next one after twice the wait before (4, 12, 28 hours...): a
    # week-long incident is a handful of nudges in its thread, not forty
    reminder_every: dt.timedelta = dt.timedelta(hours=4)
    group_at: int = 2  # incidents starting together: one message from this many on
    together: dt.timedelta = dt.timedelta(hours=2)  # how close their starts must be to be "together"
    # how long an episode must stay quiet before it is called resolved: an hourly series that is normal
    # overnight (too little volume to see a +30% shift) and anomalous again in the morning is one episode
    resolve_after: dt.timedelta = dt.timedelta(0)


def _number(value: float) -> str:
    return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.0f}"


def describe(episode: Episode, check: str) -> tuple[str, tuple[str, ...]]:
    """The title and the facts of one episode, in plain words."""
    what = f"{episode.metric}: {episode.dimension}" if episode.dimension else episode.metric
    moved = "rose" if episode.direction == "rise" else "fell"
    change = "∞" if episode.change == float("inf") else f"{episode.change:+.0%}"
    size = "sharply" if episode.change == float("inf") else f"{abs(episode.change):.0%}"
    return (f"{what} {moved} {size} ({check})", (
        f"*Metric:* {what}",
        f"*Observed:* {_number(episode.observed)} (expected {_number(episode.low)} … {_number(episode.high)}, "
        f"usually {_number(episode.expected)})",
        f"*Change:* {change}",
        f"*Since:* {episode.start:%d.%m.%Y %H:%M} UTC, {counted(episode.points, 'point')} so far",
    ))


def incidents(found_by_check: list[tuple[str, list[Episode]]]) -> tuple[list[Episode], dict[str, str]]:
    """One incident per metric, dimension and direction across the checks of one source (the hourly and the
    daily count of the same event): its ongoing episode that started first, and which checks see it now
    ("events per hour, events per day"). An on-call person gets one message, not one per check. A fingerprint
    no check sees as ongoing but one saw settle is given by its settled episode: the incident closes as a new
    level, not as "back to normal"."""
    first: dict[str, Episode] = {}
    settled: dict[str, Episode] = {}
    seen_by: dict[str, list[str]] = {}
    for check, found in found_by_check:
        for episode in found:
            if episode.settled:
                settled[episode.fingerprint] = episode
            if not episode.ongoing:
                continue
            seen_by.setdefault(episode.fingerprint, []).append(check)
            known = first.get(episode.fingerprint)
            if known is None or episode.start < known.start:
                first[episode.fingerprint] = episode
    closed = [episode for fingerprint, episode in settled.items() if fingerprint not in first]
    return [*first.values(), *closed], {fingerprint: ", ".join(checks) for fingerprint, checks in seen_by.items()}


TOGETHER_WORDS = "They started together: if they share a cause, check the data pipeline and the app first."


def started_together(items: list[T], start: Callable[[T], dt.datetime], together: dt.timedelta) -> list[list[T]]:
    """``items`` (episodes, incidents, alerts) in clusters whose starts lie within ``together`` of the cluster's
    first: news of one moment, one message. Ties keep the order they came in."""
    clusters: list[list[T]] = []
    for item in sorted(items, key=start):
        if clusters and start(item) - start(clusters[-1][0]) <= together:
            clusters[-1].append(item)
        else:
            clusters.append([item])
    return clusters


def messages(found: list[Episode], quiet: dt.timedelta = dt.timedelta(hours=12),
             together: dt.timedelta = Policy.together) -> list[list[Episode]]:
    """The messages a set of episodes (of any checks and series of one job) would have sent, each as its episodes,
    in order. One fingerprint's episodes are one incident while they are at most ``quiet`` apart (an incident is
    resolved only after that long without news); incidents starting within ``together`` of each other are one
    message, as :func:`plan_alerts` groups them."""
    incidents_found: list[list[Episode]] = []
    open_by_fingerprint: dict[str, list[Episode]] = {}
    for episode in sorted(found, key=lambda item: (item.start, item.fingerprint)):
        current = open_by_fingerprint.get(episode.fingerprint)
        if current is not None and episode.start - max(item.end + item.step for item in current) <= quiet:
            current.append(episode)
            continue
        open_by_fingerprint[episode.fingerprint] = [episode]
        incidents_found.append(open_by_fingerprint[episode.fingerprint])
    return [[episode for incident in cluster for episode in incident]
            for cluster in started_together(incidents_found, lambda incident: incident[0].start, together)]


def plan_alerts(job: str, check: str, found: list[Episode], state: dict[str, Any], now: dt.datetime, link: str,
                policy: Policy = Policy(), chart: Callable[[Episode, str], str] | None = None,
                seen_by: dict[str, str] | None = None) -> tuple[list[Alert], dict[str, Any]]:
    """The alerts this scan calls for and the new state. Only ongoing episodes are open; ``chart(episode, id)``
    draws the picture attached to an opening alert or a reminder; ``seen_by`` names, per fingerprint, the checks
    an incident was seen by (default: ``check``)."""
    seen_by = seen_by or {}
    ongoing = {episode.fingerprint: episode for episode in found if episode.ongoing}
    settled = {episode.fingerprint: episode for episode in found if episode.settled and not episode.ongoing}
    alerts: list[Alert] = []
    new_state: dict[str, Any] = {}
    opened = [episode for fingerprint, episode in ongoing.items() if fingerprint not in state]
    message_of: dict[str, str] = {}  # fingerprint → the grouped message it opened in
    by_name = sorted(opened, key=lambda episode: episode.fingerprint)  # ties in start: in order of name
    for cluster in started_together(by_name, lambda episode: episode.start, policy.together):
        if len(cluster) < policy.group_at:
            continue
        group_id = alert_id("outage", job, check, *sorted(episode.fingerprint + episode.start.isoformat()
                                                          for episode in cluster))
        lines = tuple(f"• {describe(episode, seen_by.get(episode.fingerprint, check))[0]}" for episode in cluster)
        alerts.append(Alert(group_id, "outage", f"{len(cluster)} metrics moved at once ({check})", (TOGETHER_WORDS, *lines),
                            link, job=job))
        message_of.update((episode.fingerprint, group_id) for episode in cluster)
    for fingerprint, episode in ongoing.items():
        title, lines = describe(episode, seen_by.get(fingerprint, check))
        known = state.get(fingerprint)
        if known is None:
            message = message_of.get(fingerprint) or alert_id("anomaly", job, check, fingerprint, episode.start.isoformat())
            if fingerprint not in message_of:
                alerts.append(Alert(message, "anomaly", title, lines, link, chart=chart(episode, message) if chart else "",
                                    job=job))
            known = {"start": episode.start.isoformat(), "opened_at": now.isoformat(), "message": message,
                     "reminded_at": now.isoformat(), "reminders": 0}
        elif now - dt.datetime.fromisoformat(known["reminded_at"]) >= policy.reminder_every * 2 ** known["reminders"]:
            number = known["reminders"] + 1
            alerts.append(Alert(alert_id("reminder", job, check, fingerprint, known["start"], number), "reminder",
                                f"Still: {title}", (*lines, f"*Open for:* {_hours(now, known['opened_at'])}"),
                                link, replaces=known["message"], job=job))
            known = {**known, "reminded_at": now.isoformat(), "reminders": number}
        new_state[fingerprint] = {**{k: v for k, v in known.items() if k != "quiet_since"}, "title": title}
    for fingerprint, known in state.items():
        if fingerprint in ongoing:
            continue
        if fingerprint in settled:  # held for a season: news once, now the baseline, closed at once
            alerts.append(_settled_alert(job, check, settled[fingerprint], known, now, link))
            continue
        quiet_since = dt.datetime.fromisoformat(known.get("quiet_since", now.isoformat()))
        if now - quiet_since < policy.resolve_after:
            new_state[fingerprint] = {**known, "quiet_since": quiet_since.isoformat()}
        else:
            alerts.append(Alert(alert_id("resolved", job, check, fingerprint, known["start"]), "resolved",
                                f"Back to normal: {known.get('title', fingerprint)}",
                                (f"*Was open for:* {_hours(now, known['opened_at'])}",), link,
                                replaces=known["message"], job=job))
    return alerts, new_state


def _settled_alert(job: str, check: str, episode: Episode, known: dict[str, Any], now: dt.datetime,
                   link: str) -> Alert:
    """The incident's closing words when its shift held: a new level since its start, no longer alerted."""
    what = f"{episode.metric}: {episode.dimension}" if episode.dimension else episode.metric
    moved = "up" if episode.direction == "rise" else "down"
    return Alert(alert_id("settled", job, check, episode.fingerprint, known["start"]), "settled",
                 f"New level: {what} {moved} {abs(episode.change):.0%} since {episode.start:%d.%m.%Y}",
                 (f"*Settled:* it held since {episode.start:%d.%m.%Y %H:%M} UTC, so it is the new normal now: the "
                  "detector expects this level and alerts only when the series leaves it.",
                  f"*Was open for:* {_hours(now, known['opened_at'])}"), link, replaces=known["message"], job=job)


def _hours(now: dt.datetime, since: str) -> str:
    hours = (now - dt.datetime.fromisoformat(since)) / dt.timedelta(hours=1)
    return f"{hours:.1f} h"


def read_state(folder: Path, job: str) -> dict[str, Any]:
    path = folder / f"{job}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_state(folder: Path, job: str, state: dict[str, Any]) -> None:
    with atomic_file(folder / f"{job}.json") as target:
        target.write(json.dumps(state, ensure_ascii=False, indent=1).encode("utf-8"))
