"""Block Kit within Slack's limits (contracts §2.3): header ≤ 150 characters, section text ≤ 3000,
at most 50 blocks, and well under the undocumented ~12k total."""

from __future__ import annotations

from typing import Any

from ..model import Alert
from .text import LINK_LABELS, text

EMOJI = {"anomaly": ":rotating_light:", "reminder": ":hourglass:", "resolved": ":white_check_mark:",
         "outage": ":fire:", "job_failed": ":x:", "report": ":bar_chart:",
         "stale": ":hourglass_flowing_sand:", "settled": ":chart_with_upwards_trend:"}
HEADER_LIMIT, SECTION_LIMIT, LINES_PER_SECTION, MAX_BLOCKS, TOTAL_LIMIT = 150, 3000, 10, 50, 10_000


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def blocks(alert: Alert) -> list[dict[str, Any]]:
    header = _cut(f"{EMOJI.get(alert.kind, '')} {alert.title}".strip(), HEADER_LIMIT)
    result: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}}]
    lines, used = list(alert.lines), len(header)
    while lines and len(result) < MAX_BLOCKS - 2 and used < TOTAL_LIMIT:
        chunk, lines = lines[:LINES_PER_SECTION], lines[LINES_PER_SECTION:]
        body = _cut("\n".join(chunk), min(SECTION_LIMIT, TOTAL_LIMIT - used))
        used += len(body)
        result.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    if lines:
        result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {len(lines)} more lines"}]})
    if alert.link:
        link = _cut(f"{LINK_LABELS.get(alert.kind, 'Run')}: {alert.link}", 2000)
        result.append({"type": "context", "elements": [{"type": "mrkdwn", "text": link}]})
    return result


def fallback_text(alert: Alert) -> str:
    """The notification text Slack shows where blocks cannot be (and requires beside them)."""
    return _cut(text(alert), 3000)
