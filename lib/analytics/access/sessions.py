"""Sessions ended before their cookie expires.

A session cookie is signed, so the server needs no list of live sessions; but then signing out only
asked the browser to forget the cookie, and a copied cookie kept working for its whole lifetime. Each
session now carries a random id, and signing out puts that id here until the cookie would have expired
anyway. The list is kept in ``reports/.ended_sessions.json`` (owner-only), so a restart does not bring
ended sessions back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .users import write_private_json


class EndedSessions:
    """The ids of ended sessions, and ``since``: sessions made before it end too (set when the list was lost)."""

    def __init__(self, path: Path, lifetime_seconds: float) -> None:
        self.path, self.lifetime = path, lifetime_seconds
        try:
            self._ended: dict[str, float] = {str(key): float(value) for key, value in
                                             json.loads(path.read_text(encoding="utf-8")).get("ended", {}).items()}
        except FileNotFoundError:
            self._ended = {}
            self.since = 0.0
        except (OSError, ValueError, AttributeError):  # unreadable: every session made before this start ends
            self._ended, self.since = {}, time.time()
        else:
            self.since = 0.0

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._ended

    def end(self, session_id: str) -> None:
        """End the session for good; ids past their cookie's lifetime are dropped as the list is saved."""
        now = time.time()
        self._ended = {key: until for key, until in self._ended.items() if until > now}
        self._ended[session_id] = now + self.lifetime
        write_private_json(self.path, {"ended": self._ended})
