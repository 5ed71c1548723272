"""What the scheduler does with a finished run so it reaches people: the manifest and page beside it, then
(after a successful run whose schedule names a Slack channel) one message with the headline and the link.

Two calls from :mod:`analytics.scheduler.jobs`, so the job runner stays about running and recording.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..alerts import FlushReport
from ..config import Settings
from ..run_pages import render_run_page
from .links import run_page_url
from .message import headline_line, run_message, send
from .runs import new_manifest, read_manifest, write_manifest

if TYPE_CHECKING:
    from ..runner import NotebookRun
    from ..scheduler.schedules import Schedule

log = logging.getLogger(__name__)


def publish_run(settings: Settings, schedule: Schedule, run_id: str, executed: Path, status: str,
                done: NotebookRun | None) -> Path | None:
    """Write the run's manifest (who may open it, its files) and its page; the page's path, or None."""
    manifest = new_manifest(settings, schedule.job, run_id, schedule.notebook, schedule.deliver, status,
                            done.files if done else (), done.headline if done else None,
                            done.rows if done else None)
    folder = executed.parent
    write_manifest(settings, manifest)
    return render_run_page(executed, folder / f"{run_id}.html", manifest, settings=settings,
                           timezone=schedule.timezone)


def announce_run(settings: Settings, schedule: Schedule, run_id: str, tick: dt.datetime) -> FlushReport | None:
    """After a successful run: one message to the schedule's Slack channel with the headline and the run's page.
    Queued in the outbox first, so a Slack outage sends it later and a rerun of the tick sends nothing more."""
    if schedule.deliver is None or not schedule.deliver.slack:
        return None
    manifest = read_manifest(settings, schedule.job, run_id)
    if manifest is None:
        log.warning("job %s: run %s has no manifest; nothing was sent to %s", schedule.job, run_id,
                    schedule.deliver.slack)
        return None
    line = headline_line(manifest.headline, manifest.title, manifest.rows)
    message = run_message(schedule.job, manifest.title, line, run_page_url(settings, schedule.job, run_id),
                          schedule.deliver.slack, tick)
    return send(settings, message)
