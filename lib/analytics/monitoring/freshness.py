"""Is a watched source still sending data? Stale data is an alert of its own, and it pauses the anomaly alerts.

A source whose newest data is older than its checks allow (``Check.expected_delay``) would have its
missing hours judged as a fall to zero, or its last open incident reminded for weeks. So one "no new
data from … since …" alert opens per table, the anomaly alerts of the sources reading it wait (their
incidents stay as they were), and when data arrives the alert resolves and judging resumes. The state
is kept in the job's state under :data:`STALE`, so the home page's on-call tile lists it like any open alert.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..alerts import Alert, alert_id
from ..words import counted

STALE = "no new data"  # the key of the tables' freshness alerts in a job's state, beside the sources' incidents


@dataclass(frozen=True)
class Freshness:
    """How new a table's newest data is, against what the checks reading it allow."""

    source: str  # the table
    newest: dt.datetime
    allowed: dt.timedelta
    now: dt.datetime

    @property
    def stale(self) -> bool:
        return self.now - self.newest > self.allowed

    @property
    def title(self) -> str:
        return f"No new data from {self.source} since {self.newest:%d.%m.%Y %H:%M} UTC"

    def words(self) -> str:
        """What the page says: how old the data is, what is expected, and what waits for it."""
        return (f"{self.title}: {_span(self.now - self.newest)} ago, while new data is expected at least every "
                f"{_span(self.allowed)}. Anomalies are judged up to that point; the alerts on it wait until "
                "data arrives.")


def _span(length: dt.timedelta) -> str:
    hours = length / dt.timedelta(hours=1)
    return counted(round(hours), "hour") if hours < 48 else counted(round(hours / 24), "day")


def plan_freshness(job: str, fresh: Freshness, known: dict[str, Any] | None, link: str
                   ) -> tuple[list[Alert], dict[str, Any] | None]:
    """The alert a source's freshness calls for (opened once, resolved when data arrives) and its new state."""
    if fresh.stale:
        if known is not None:
            return [], known
        # no job in the id: the jobs reading one table (events, scenarios, product) send its news once, not thrice
        message = alert_id("stale", fresh.source, fresh.newest.isoformat())
        alert = Alert(message, "stale", fresh.title, (
            f"*Expected:* new data at least every {_span(fresh.allowed)}; the newest is {_span(fresh.now - fresh.newest)} old.",
            f"*Paused:* anomaly alerts on the series read from {fresh.source} wait until data arrives: they would be "
        "judging missing data.",
        ), link, job=job)
        return [alert], {"start": fresh.newest.isoformat(), "opened_at": fresh.now.isoformat(), "message": message,
                         "title": fresh.title}
    if known is None:
        return [], None
    missing = fresh.now - dt.datetime.fromisoformat(known["opened_at"])
    return [Alert(alert_id("stale-resolved", fresh.source, known["start"]), "resolved",
                  f"Data from {fresh.source} arrives again", (
                      f"*Newest:* {fresh.newest:%d.%m.%Y %H:%M} UTC",
                      f"*Alerted as missing for:* {_span(missing)}; its anomaly alerts resume.",
                  ), link, replaces=known["message"], job=job)], None
