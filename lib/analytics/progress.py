"""What a long step is doing, in words, for whoever runs the report: the form's status line, or nobody.

A report calls :func:`say` ("Amplitude is preparing cohort abc1 (12 s so far)…") without knowing
whether a form, ``analytics run`` or the scheduler runs it; :func:`listening` decides, per run.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

Status = Callable[[str], None]
_CHANNEL: contextvars.ContextVar[Status | None] = contextvars.ContextVar("analytics_status", default=None)


def say(text: str) -> None:
    """Tell the person what is happening; nothing when no one listens."""
    channel = _CHANNEL.get()
    if channel is not None:
        channel(text)


@contextlib.contextmanager
def listening(channel: Status | None) -> Iterator[None]:
    """Within the block, :func:`say` reaches ``channel``."""
    token = _CHANNEL.set(channel)
    try:
        yield
    finally:
        _CHANNEL.reset(token)
