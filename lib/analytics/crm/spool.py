"""Pages fetched but not yet in ClickHouse, kept on disk one file per page with the checkpoint they reach.

The API gives 250 entities a page, and a ClickHouse insert wants tens of thousands of rows (seed 000's open
problem: a part per page). So a page is first made durable here (written whole, then renamed into place), and
the loader inserts many pages at once. A load killed between an insert and its commit, or before one, finds its
pages here and goes on from the last one: nothing fetched is fetched again, nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exports.files import atomic_file, private_folder

PAGE_FILE = re.compile(r"^page-(\d{7})\.json$")


@dataclass(frozen=True)
class Page:
    number: int  # the load's page count, from 1
    checkpoint: dict[str, Any]
    rows: list[dict[str, Any]]


def _encode(value: Any) -> Any:
    return {"$t": value.isoformat()} if isinstance(value, dt.datetime) else value


def _decode(value: Any) -> Any:
    return dt.datetime.fromisoformat(value["$t"]) if isinstance(value, dict) and "$t" in value else value


@dataclass(frozen=True)
class Spool:
    """The pages of one entity's load waiting for their batch (``folder``: one per entity)."""

    folder: Path

    def add(self, page: Page) -> None:
        body = {"checkpoint": page.checkpoint, "rows": [{name: _encode(value) for name, value in row.items()}
                                                          for row in page.rows]}
        with atomic_file(private_folder(self.folder) / f"page-{page.number:07d}.json") as handle:
            handle.write(json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def pages(self) -> list[Page]:
        """The pages waiting, in order (a partly written page is never here: it is renamed in only when whole)."""
        found = []
        for path in sorted(self.folder.glob("page-*.json")) if self.folder.is_dir() else []:
            match = PAGE_FILE.match(path.name)
            if match:
                body = json.loads(path.read_text(encoding="utf-8"))
                rows = [{name: _decode(value) for name, value in row.items()} for row in body["rows"]]
                found.append(Page(int(match.group(1)), body["checkpoint"], rows))
        return found

    def drop(self, up_to: int, load_id: str | None = None) -> None:
        """Forget the pages up to ``up_to`` (committed now), or all pages of another load than ``load_id``."""
        for page in self.pages():
            if page.number <= up_to or (load_id is not None and page.checkpoint.get("load_id") != load_id):
                (self.folder / f"page-{page.number:07d}.json").unlink(missing_ok=True)

    def clear(self) -> None:
        for path in self.folder.glob("page-*.json") if self.folder.is_dir() else []:
            path.unlink(missing_ok=True)


def checkpoint_of(pages: list[Page], fallback: Mapping[str, Any]) -> dict[str, Any]:
    return dict(pages[-1].checkpoint) if pages else dict(fallback)
