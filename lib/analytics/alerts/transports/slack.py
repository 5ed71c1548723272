"""Slack through slack_sdk (contracts §2): an incoming webhook, or a bot token that can attach a chart
and edit a message in place.

slack_sdk retries a dropped connection only once by default, and neither 429 nor 5xx; we add its own
handlers for both, so a rate limit waits ``Retry-After`` seconds and a 500/503 is tried again. What
still fails becomes :class:`DeliveryFailed`, and the message stays in the outbox.

slack_sdk is imported when a transport is made, not with this module: every report kernel imports the alerts
package (a page's "send to Slack" button), and slack_sdk is about 14 MB of each kernel's own memory.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.error import URLError

from ..formats import blocks, fallback_text
from ..model import Alert
from . import Delivery, DeliveryFailed

log = logging.getLogger(__name__)
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
                    "rollup_error"}
TIMEOUT = 15


def _retry_handlers(attempts: int) -> list:
    from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler  # noqa: PLC0415
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler  # noqa: PLC0415

    return [ConnectionErrorRetryHandler(max_retry_count=attempts), RateLimitErrorRetryHandler(max_retry_count=attempts),
            ServerErrorRetryHandler(max_retry_count=attempts)]


class SlackWebhook:
    """An incoming webhook posts to the one channel it was made for: an alert's own ``channel`` needs the bot."""

    name = "slack-webhook"

    def __init__(self, url: str, *, attempts: int = 3) -> None:
        from slack_sdk.webhook import WebhookClient  # noqa: PLC0415 - see the module's docstring

        self.client = WebhookClient(url, timeout=TIMEOUT, retry_handlers=_retry_handlers(attempts))

    def send(self, alert: Alert, replaced: dict[str, Any] | None) -> Delivery:
        try:
            response = self.client.send(text=fallback_text(alert), blocks=blocks(alert))
        except (URLError, OSError) as error:
            raise DeliveryFailed(f"Slack could not be reached ({error})", retryable=True) from None
        if response.status_code == 200 and response.body == "ok":
            return Delivery(self.name, "webhook")
        raise DeliveryFailed(f"Slack refused the message: HTTP {response.status_code} {response.body!r}",
                             retryable=response.status_code in RETRYABLE_STATUS)


class SlackBot:
    name = "slack-bot"

    def __init__(self, token: str, channel: str, *, base_url: str = "https://slack.com/api/", attempts: int = 3) -> None:
        from slack_sdk import WebClient  # noqa: PLC0415 - see the module's docstring

        self.client = WebClient(token=token, base_url=base_url, timeout=TIMEOUT, retry_handlers=_retry_handlers(attempts))
        self.channel = channel

    def send(self, alert: Alert, replaced: dict[str, Any] | None) -> Delivery:
        from slack_sdk.errors import SlackApiError  # noqa: PLC0415 - loaded with the client already

        try:
            thread = (replaced or {}).get("ts", "")
            if thread:  # a resolution: the opening message says so in place, the follow-up goes in its thread
                self.client.chat_update(channel=replaced["channel"], ts=thread, text=fallback_text(alert),
                                        blocks=blocks(alert))
            answer = self.client.chat_postMessage(channel=alert.channel or self.channel, text=fallback_text(alert),
                                                  blocks=blocks(alert), thread_ts=thread or None)
            delivery = Delivery(self.name, str(answer["channel"]), str(answer["ts"]))
        except SlackApiError as error:
            status, code = error.response.status_code, error.response.get("error", "")
            raise DeliveryFailed(f"Slack refused the message: HTTP {status} {code}",
                                 retryable=status in RETRYABLE_STATUS or code in RETRYABLE_ERRORS) from None
        except (URLError, OSError) as error:
            raise DeliveryFailed(f"Slack could not be reached ({error})", retryable=True) from None
        if alert.chart:
            self._attach(alert, delivery)
        return delivery

    def _attach(self, alert: Alert, delivery: Delivery) -> None:
        """The chart goes into the message's thread; a failed upload never un-sends the message."""
        from slack_sdk.errors import SlackApiError  # noqa: PLC0415 - loaded with the client already

        try:
            self.client.files_upload_v2(channel=delivery.channel, file=alert.chart, title=alert.title[:200],
                                        thread_ts=delivery.ts)
        except (SlackApiError, URLError, OSError):
            log.warning("alerts: the chart of %s could not be attached", alert.id, exc_info=True)
