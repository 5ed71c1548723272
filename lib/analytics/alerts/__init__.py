"""Alerts in three layers: a message model, formatters (text, Block Kit) and transports (file, Slack),
with a durable outbox between the job that raises an alert and the transport that delivers it."""

from __future__ import annotations

from ..config import Settings
from .model import Alert, alert_id
from .outbox import FlushReport, Outbox
from .transports import Delivery, DeliveryFailed, FileTransport, SlackBot, SlackWebhook, Transport


def outbox_for(settings: Settings) -> Outbox:
    return Outbox(settings.reports_dir / "alerts")


def transport_for(settings: Settings, target: str = "slack") -> Transport | None:
    """Where alerts go: Slack when configured (webhook first, else bot token + channel), else text files
    in reports/alerts/messages/; ``none`` sends nothing."""
    if target == "none":
        return None
    if target == "slack" and settings.slack_webhook_url:
        return SlackWebhook(settings.slack_webhook_url)
    if target == "slack" and settings.slack_bot_token and settings.slack_channel:
        return SlackBot(settings.slack_bot_token, settings.slack_channel, base_url=settings.slack_api_url)
    return FileTransport(settings.reports_dir / "alerts" / "messages")


def deliver(settings: Settings, alerts: list[Alert], target: str = "slack") -> FlushReport | None:
    """Queue ``alerts`` durably, then send everything that waits (earlier outages included)."""
    transport = transport_for(settings, target)
    if transport is None:
        return None
    box = outbox_for(settings)
    for alert in alerts:
        box.put(alert)
    return box.flush(transport)


__all__ = ["Alert", "Delivery", "DeliveryFailed", "FileTransport", "FlushReport", "Outbox", "SlackBot",
           "SlackWebhook", "Transport", "alert_id", "deliver", "outbox_for", "transport_for"]
