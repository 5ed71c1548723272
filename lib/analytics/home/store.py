"""The stored tiles: what the last scheduled run of each job found, one owner-only JSON file per job.

``reports/tiles/<job>.json`` holds the job's notebook and parameters (for the tile's link), the last run's
status and time, and the last successful run's headline. The scheduler writes it after every run
(:func:`remember_run`, atomically: a reader sees the old file or the new one, never half); the home page
only reads these files, so a page view costs no warehouse query. A file that cannot be read (a crash of an
older version, a hand edit) is skipped with a log line naming it: one bad tile never takes the page down.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..exports.files import atomic_file
from ..results import Headline

if TYPE_CHECKING:
    from ..scheduler.jobs import JobRun
    from ..scheduler.schedules import Schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredTile:
    """One job's last run as the home page needs it; times are UTC."""

    job: str
    notebook: str  # relative to the notebooks folder, forward slashes
    parameters: dict[str, Any] = field(default_factory=dict)
    status: str = ""  # the last run's: ran, failed, timed_out
    finished_at: dt.datetime | None = None  # the last run's end
    refreshed_at: dt.datetime | None = None  # the last successful run's end: when the headline was computed
    run_id: str = ""
    error: str = ""
    headline: Headline | None = None

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "notebook": self.notebook, "parameters": self.parameters, "status": self.status,
                "finished_at": _iso(self.finished_at), "refreshed_at": _iso(self.refreshed_at),
                "run_id": self.run_id, "error": self.error,
                "headline": self.headline.as_json() if self.headline is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredTile:
        headline = data.get("headline")
        return cls(job=str(data["job"]), notebook=str(data["notebook"]), parameters=dict(data.get("parameters") or {}),
                   status=str(data.get("status", "")), finished_at=_moment(data.get("finished_at")),
                   refreshed_at=_moment(data.get("refreshed_at")), run_id=str(data.get("run_id", "")),
                   error=str(data.get("error", "")), headline=Headline.from_json(headline) if headline else None)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def tiles_folder(settings: Settings) -> Path:
    return settings.reports_dir / "tiles"


def write_tile(folder: Path, tile: StoredTile) -> Path:
    """Replace the job's file in one step (owner-only, fsynced): readers never see a half-written tile."""
    path = folder / f"{tile.job}.json"
    with atomic_file(path) as handle:
        handle.write(json.dumps(tile.as_json(), ensure_ascii=False, indent=1, default=str).encode("utf-8"))
    return path


def read_tile(folder: Path, job: str) -> StoredTile | None:
    """The job's stored tile, or None when there is none or it cannot be read (logged)."""
    path = folder / f"{job}.json"
    if not path.is_file():
        return None
    try:
        return StoredTile.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as trouble:
        log.warning("home page: the stored tile %s cannot be read and is skipped (%s: %s); the next run of job "
                    "%s writes it again", path, type(trouble).__name__, trouble, job)
        return None


def read_tiles(folder: Path) -> dict[str, StoredTile]:
    """Every readable stored tile by job; unreadable files are logged and left out, and a write in progress
    (a hidden temporary beside its file) is not a tile."""
    found = {}
    for path in sorted(folder.glob("[!.]*.json")) if folder.is_dir() else []:
        tile = read_tile(folder, path.stem)
        if tile is not None:
            found[tile.job] = tile
    return found


def remember_run(settings: Settings, schedule: Schedule, run: JobRun) -> None:
    """After a scheduled run: keep its headline (when it ran) or its failure (the old headline stays, and turns
    grey as it ages). Never raises: the run is done and recorded whatever happens to its tile."""
    try:
        folder = tiles_folder(settings)
        previous = read_tile(folder, schedule.job)
        tile = previous or StoredTile(schedule.job, schedule.notebook.relative_to(settings.notebooks.resolve()).as_posix())
        tile = replace(tile, parameters=dict(schedule.parameters), status=run.status, finished_at=run.finished_at,
                       error=run.error)
        if run.status == "ran":
            tile = replace(tile, run_id=run.run_id, refreshed_at=run.finished_at, headline=_headline_of(run.notebook))
        write_tile(folder, tile)
    except Exception as trouble:  # noqa: BLE001 - a tile is a convenience; the run and its row stand
        log.warning("job %s: its home-page tile was not stored (%s: %s)", schedule.job, type(trouble).__name__, trouble)


def _headline_of(executed: str) -> Headline | None:
    """The headline the report put in the executed notebook's run record, if it declares one."""
    from ..runner import run_record  # noqa: PLC0415 - nbformat is loaded only when a run ended

    data = run_record(Path(executed)).get("headline") if executed else None
    return Headline.from_json(data) if data else None
