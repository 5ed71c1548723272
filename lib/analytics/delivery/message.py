"""The one Slack message a delivered run or the "Send to Slack" button sends: the report's headline figure
and a link, through the alerts' durable outbox (:mod:`analytics.alerts`), so a Slack outage is retried at the
next flush and the message id (what it is about) keeps a rerun from sending it twice.

With a bot token (``ANALYTICS_SLACK_BOT_TOKEN``) a message goes to the channel asked for; an incoming webhook
posts to the one channel it was made for. Without any Slack setting messages are text files beside the
alerts' (``reports/alerts/messages/``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..alerts import Alert, FlushReport, alert_id, deliver
from ..config import Settings
from ..words import counted


def slack_configured(settings: Settings) -> bool:
    """A webhook, or a bot token with its channel: what the alerts need to reach Slack."""
    return bool(settings.slack_webhook_url or (settings.slack_bot_token and settings.slack_channel))


def figure(value: float, unit: str = "") -> str:
    """A number as a person writes it: thousands separators, a share as a percentage, never e-notation."""
    if unit == "%":
        return f"{value * 100:,.1f}%".replace(".0%", "%")
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}" if unit else text


def headline_figures(headline: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(label, figure, comparison) for a page's headline box; empty strings where there is nothing to show."""
    if not headline:
        return "", "", ""
    unit, value, compared = headline.get("unit", ""), headline.get("value"), headline.get("compared_value")
    shown = headline.get("text") or (figure(value, unit) if value is not None else "")
    against = (f"{headline['compared_label']}: {figure(compared, unit)}"
               if compared is not None and headline.get("compared_label") else "")
    return str(headline.get("label", "")), shown, against


def headline_line(headline: Mapping[str, Any] | None, title: str, rows: int | None) -> str:
    """The message's first line: the report's headline (label, figure, comparison), else its title and rows."""
    if not headline:
        return f"{title}: {counted(rows, 'row')}" if rows is not None else title
    if headline.get("text"):
        return f"{headline['label']}: {headline['text']}"
    value = headline.get("value")
    if value is None:
        return str(headline["label"])
    line = f"{headline['label']}: {figure(value, headline.get('unit', ''))}"
    compared = headline.get("compared_value")
    if compared is not None and headline.get("compared_label"):
        line += f" ({headline['compared_label']}: {figure(compared, headline.get('unit', ''))})"
    return line


def run_message(job: str, title: str, line: str, link: str, channel: str, tick: dt.datetime) -> Alert:
    """A scheduled run's result for its channel; one per job, tick and channel, however often it is queued."""
    return Alert(alert_id("report", job, channel, tick.isoformat()), "report", title, (line,), link, job=job,
                 channel=channel)


def form_message(title: str, line: str, link: str, channel: str, person: str, run_id: str) -> Alert:
    """A result a person sends from the report's form; one per run and channel (a second click sends nothing)."""
    return Alert(alert_id("report", "form", run_id, channel), "report", title, (line, f"Sent by {person}"), link,
                 channel=channel)


def send(settings: Settings, message: Alert) -> FlushReport | None:
    """Queue the message durably, then send what waits; an outage leaves it for the next flush."""
    return deliver(settings, [message], "slack")
