"""A scheduled run as a page: the report's result as its form shows it, in one self-contained HTML file.

The page is what an alert and a delivered message link to (served by the app under ``/runs/``). It shows the
outcome the report displayed, saved in the executed notebook (no code cells, no parameters, no server paths),
with its files as buttons; styles are inline and there are no scripts, so it opens the same behind a firewall
and under the app's content-security policy. What it shows is :mod:`analytics.delivery.runs`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from .config import Settings, load_settings
from .delivery.runs import RunManifest, run_page_html

log = logging.getLogger(__name__)


def render_run_page(executed: Path, target: Path, manifest: RunManifest | None = None, *,
                    settings: Settings | None = None, timezone: str = "UTC") -> Path | None:
    """Write the run's page; a rendering failure is logged and gives None (the executed notebook is kept).
    Without a ``manifest`` (a run nobody scheduled) the page is titled by the notebook's name."""
    try:
        settings = settings or load_settings()
        manifest = manifest or RunManifest(target.parent.name, target.stem, "", _title(executed), "ran",
                                           dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        target.write_text(run_page_html(settings, executed, manifest, timezone), encoding="utf-8")
    except Exception:  # noqa: BLE001 - the run's record stays; only its page is missing
        log.warning("could not render %s as a page", executed, exc_info=True)
        return None
    return target


def _title(executed: Path) -> str:
    """The executed notebook's report name: its file name without the run's stamp and id."""
    return " ".join(executed.stem.split("_")[:-2]).capitalize() or executed.stem
