"""Transports deliver a formatted alert somewhere: a folder of text files, a Slack webhook, a Slack bot.

Each ``send`` returns a :class:`Delivery` or raises :class:`DeliveryFailed`; ``retryable`` says whether
the message should wait in the outbox for the service to come back (an outage, a rate limit) or
needs a person (a revoked webhook, an unknown channel). It waits in both cases: nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..model import Alert


@dataclass(frozen=True)
class Delivery:
    transport: str
    channel: str
    ts: str = ""  # Slack's message id, for editing it later


class DeliveryFailed(Exception):  # noqa: N818 - reads as a sentence: raise DeliveryFailed(...)
    def __init__(self, message: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message)


class Transport(Protocol):
    name: str

    def send(self, alert: Alert, replaced: dict[str, Any] | None) -> Delivery:
        """Deliver ``alert``; ``replaced`` is the delivery record of the message it updates, if any."""
        ...


from .file import FileTransport  # noqa: E402
from .slack import SlackBot, SlackWebhook  # noqa: E402

__all__ = ["Delivery", "DeliveryFailed", "FileTransport", "SlackBot", "SlackWebhook", "Transport"]
