"""A line for report pages past the cap: first come, first served, instead of a "busy" page.

The app keeps at most ``ANALYTICS_MAX_VISITOR_KERNELS`` visitor kernels (each is a few hundred MB). A visitor
who asks for a report when they are all taken gets a waiting page, "You are 3rd in line, about 20 s", that asks
again by itself every two seconds and becomes the report when their turn comes. Their place is a ticket in a
cookie scoped to the report's address; a ticket that stops asking (the tab was closed) leaves the line after
``STALE_SECONDS``, so the people behind move up.

A visitor let in holds a slot until their kernel is counted (:meth:`VisitorQueue.settled`): between the two the
kernel is still starting, and without the hold the next refresh would let a second person into the same slot.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

REFRESH_SECONDS = 2  # the waiting page asks again this often
STALE_SECONDS = 10  # a ticket not asked about for this long was a closed tab
HOLD_SECONDS = 120  # a let-in visitor whose kernel never got counted (the render failed) frees the slot anyway
DEFAULT_TURN_SECONDS = 10.0  # the wait per place before the app has seen anyone leave
COOKIE = "analytics_queue"


@dataclass
class Place:
    ticket: str
    seen: float  # when its page last asked


@dataclass
class Admission:
    """What the report page does with a request: serve it now, or show the waiting page for ``ticket``."""

    admitted: bool
    ticket: str = ""
    position: int = 0  # 1 for the next one in
    wait_seconds: float = 0.0


class VisitorQueue:
    """Visitors waiting for a slot, in the order they first asked."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._line: OrderedDict[str, Place] = OrderedDict()
        self._holds: dict[str, float] = {}  # admitted, kernel not counted yet: hold id -> when let in
        self._turns: deque[float] = deque(maxlen=20)  # when queued visitors were let in, for the estimate

    def ask(self, ticket: str | None, in_use: int, cap: int) -> Admission:
        """Serve now when a slot is free and nobody waits before this visitor: strictly in order, so when three
        slots free at once the second in line goes in after the first (within one refresh), never before."""
        now = self._clock()
        self._forget(now)
        free = cap - in_use - len(self._holds)
        place = self._line.get(ticket or "")
        if place is None:
            if not self._line and free > 0:
                return Admission(True, self._hold(now))
            place = Place(secrets.token_urlsafe(12), now)
            self._line[place.ticket] = place
        place.seen = now
        position = list(self._line).index(place.ticket) + 1
        if position == 1 and free > 0:
            del self._line[place.ticket]
            self._turns.append(now)
            return Admission(True, self._hold(now))
        return Admission(False, place.ticket, position, self.wait_seconds(position))

    def settled(self, hold: str) -> None:
        """The let-in visitor's kernel is counted among those in use now (or their page failed)."""
        self._holds.pop(hold, None)

    def wait_seconds(self, position: int) -> float:
        """Position times the recent gap between people let in from the line."""
        turns = list(self._turns)
        gap = (turns[-1] - turns[0]) / (len(turns) - 1) if len(turns) >= 2 else DEFAULT_TURN_SECONDS
        return position * max(gap, REFRESH_SECONDS)

    def waiting(self) -> int:
        self._forget(self._clock())
        return len(self._line)

    def _hold(self, now: float) -> str:
        hold = secrets.token_urlsafe(8)
        self._holds[hold] = now
        return hold

    def _forget(self, now: float) -> None:
        for ticket in [ticket for ticket, place in self._line.items() if now - place.seen > STALE_SECONDS]:
            del self._line[ticket]
        for hold in [hold for hold, since in self._holds.items() if now - since > HOLD_SECONDS]:
            del self._holds[hold]
