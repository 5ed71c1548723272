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


def destination(settings: Settings, target: str = "slack") -> str:
    """Where ``target``'s alerts go, in words for a run's line ("Slack #alerts", "files in …/messages")."""
    transport = transport_for(settings, target)
    if transport is None:
        return "nowhere (the job's alert is none)"
    if isinstance(transport, SlackWebhook):
        return "Slack (the webhook's channel)"
    if isinstance(transport, SlackBot):
        return f"Slack {settings.slack_channel}"
    folder = settings.reports_dir / "alerts" / "messages"
    return f"files in {folder}" if target == "file" else f"files in {folder} (Slack is not configured)"


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
