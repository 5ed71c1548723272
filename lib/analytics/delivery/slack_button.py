""""Send to Slack" on a report page: after a run, the result's headline and a link back to the form filled with
the same values, to a channel picked from the configured list (never typed).

The link is the form's own "Link to this form", made absolute with the app's address; the app's gate opens it
only for people who may open the report, so sending it shares nothing more than the report's own audience
could see. The message goes through the alerts' durable outbox (:mod:`analytics.delivery.message`): Slack
down means it goes out with the next delivery, and a second click for the same run sends nothing twice.

Shown only when Slack is configured. The form calls :meth:`SlackButton.watch`'s runner, so the button knows
the latest result and is off while a run is going.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..pipeline import RunOutcome
from ..render import ERROR_STYLE, OK_STYLE
from .links import absolute, form_link
from .message import form_message, headline_line, send, slack_configured

WEBHOOK_CHOICE = "the alerts' channel"


def channel_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, channel) pairs a person may pick; a webhook posts to its own channel only."""
    if settings.slack_bot_token and settings.slack_channel:
        listed = [name.strip() for name in settings.slack_channels.split(",") if name.strip()]
        return [(name, name) for name in listed or [settings.slack_channel]]
    if settings.slack_webhook_url:
        return [(WEBHOOK_CHOICE, "")]
    return []


class SlackButton:
    """A channel dropdown, the "Send to Slack" button and a status line; off until a run has a result."""

    def __init__(self, settings: Settings, user: str) -> None:
        import ipywidgets as widgets  # noqa: PLC0415 - widgets only in the app

        self.settings, self.user, self.page_url = settings, user, ""
        self.outcome: RunOutcome | None = None
        self._lock = threading.Lock()
        self.button = widgets.Button(description="Send to Slack", icon="share", disabled=True,
                                     tooltip="Post the result's headline and a link to this form, filled in as now")
        self.channel = widgets.Dropdown(options=channel_choices(settings), description="to", layout={"width": "220px"},
                                        style={"description_width": "initial"})
        self.status = widgets.HTML()
        self.button.on_click(lambda _: self.send())
        # set apart from Run and Cancel, so nobody takes it for a third way to run
        self.widget = widgets.HBox([self.button, self.channel, self.status],
                                   layout={"margin": "0 0 0 32px", "align_items": "center"})
        self.widget.add_class("send-to-slack")

    def watch(self, run: Callable[..., RunOutcome]) -> Callable[..., RunOutcome]:
        """The form's runner, telling this button when a result is there (and that it is gone while a run goes)."""
        def watched(*args: Any, **kwargs: Any) -> RunOutcome:
            self.outcome, self.button.disabled, self.status.value = None, True, ""
            outcome = run(*args, **kwargs)
            self.outcome, self.button.disabled = outcome, False
            return outcome
        return watched

    def send(self) -> str:
        """Post the latest result; the sentence shown beside the button (also returned, for tests)."""
        outcome = self.outcome
        if outcome is None or not self._lock.acquire(blocking=False):
            return ""
        try:
            self.button.disabled = True
            text, error = self._send(outcome)
        finally:
            self.button.disabled = False
            self._lock.release()
        colour = ERROR_STYLE if error else OK_STYLE  # a line beside the button, not a paragraph below its baseline
        self.status.value = f"<span class='slack-status' style='{colour};margin-left:8px'>{html.escape(text)}</span>"
        return text

    def _send(self, outcome: RunOutcome) -> tuple[str, bool]:
        channel = self.channel.value or ""
        headline = outcome.query.headline.as_json() if outcome.query.headline is not None else None
        line = headline_line(headline, outcome.query.title, outcome.rows)
        link = absolute(self.settings, form_link(self.page_url, outcome.values))
        where = channel or WEBHOOK_CHOICE
        report = send(self.settings, form_message(outcome.query.title, line, link, channel, self.user, outcome.run_id))
        if report is not None and report.waiting:
            return (f"Slack did not take it yet ({report.error or 'no answer'}); it waits and goes to {where} "
                    "with the next delivery.", True)
        return f"Sent to {where}.", False


def slack_button(settings: Settings, user: str) -> SlackButton | None:
    """The button, or None when Slack is not configured (then the page has no button at all)."""
    return SlackButton(settings, user) if slack_configured(settings) and channel_choices(settings) else None

