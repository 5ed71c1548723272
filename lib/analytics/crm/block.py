"""An amoCRM block remembered by the home, so that no load asks again until a person says it is lifted.

After a block, every request answers 403 until amoCRM support lifts it, and requests made meanwhile are the
"walking through data without control" that earns blocks. So the first 403 is written down here
(``reports/.amocrm-blocked``); every later load, scheduled or not, stops before its first request and says
since when, until someone runs the loader once with "The block is lifted" ticked.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from ..clients.amocrm import BLOCKED
from ..errors import AnalyticsError
from ..exports.files import atomic_file


class StillBlocked(AnalyticsError):
    """A load refused before any request: the account's block was not marked lifted."""


@dataclass(frozen=True)
class BlockMark:
    path: Path

    def since(self) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(json.loads(self.path.read_text())["since"])
        except (OSError, ValueError, KeyError):
            return None

    def mark(self, status: int, when: dt.datetime) -> None:
        if self.since() is None:
            with atomic_file(self.path) as handle:
                handle.write(json.dumps({"since": when.isoformat(), "status": status}).encode())

    def lift(self) -> None:
        self.path.unlink(missing_ok=True)

    def refuse_if_blocked(self) -> None:
        since = self.since()
        if since is not None:
            raise StillBlocked(f"Nothing was asked of amoCRM: {BLOCKED}. It answered 403 on {since:%d.%m.%Y %H:%M} UTC, "
                               "and every request before the block is lifted makes it worse. When support has lifted "
                               "it, run this loader once with 'The block is lifted' ticked.")


def block_mark(reports_dir: Path) -> BlockMark:
    return BlockMark(reports_dir / ".amocrm-blocked")
