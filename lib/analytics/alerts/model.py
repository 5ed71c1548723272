"""What an alert says, independent of where it goes: the model the formatters turn into text or Block Kit."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

# report: a result sent to people; stale: a source sends no new data; settled: a shift became the new level
KINDS = ("anomaly", "reminder", "resolved", "outage", "job_failed", "report", "stale", "settled")


@dataclass(frozen=True)
class Alert:
    """One message. ``id`` is derived from what the message is about, so the same news twice is one message."""

    id: str
    kind: str
    title: str
    lines: tuple[str, ...] = ()  # facts, one per line, plain words
    link: str = ""  # the run's page (or, for a report sent from its form, the filled form)
    chart: str = ""  # a PNG to attach where the transport can
    replaces: str = ""  # the message this one updates in place (a resolution edits the opening message)
    job: str = ""
    channel: str = ""  # a Slack channel of its own (a delivered report's); empty: the alerts' channel
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        return cls(**{**data, "lines": tuple(data.get("lines", ()))})


def alert_id(*about: object) -> str:
    """A stable id from what a message is about (kind, episode, reminder number...)."""
    return hashlib.sha256("|".join(map(str, about)).encode("utf-8")).hexdigest()[:24]
