"""Plain text: for the file transport, logs and terminals."""

from __future__ import annotations

from ..model import Alert

ICONS = {"anomaly": "[ALERT]", "reminder": "[STILL]", "resolved": "[RESOLVED]", "outage": "[OUTAGE]",
         "job_failed": "[JOB FAILED]", "report": "[REPORT]",
         "stale": "[NO NEW DATA]", "settled": "[NEW LEVEL]"}
LINK_LABELS = {"report": "Open"}  # what a link is called in a message of this kind (default: "Run")


def text(alert: Alert) -> str:
    lines = [f"{ICONS.get(alert.kind, '')} {alert.title}".strip(), *alert.lines]
    if alert.link:
        lines.append(f"{LINK_LABELS.get(alert.kind, 'Run')}: {alert.link}")
    return "\n".join(lines)
