"""A scheduled run as people see it: a manifest beside the run (who may open it, its files) and its page.

The manifest, ``reports/runs/<job>/<run id>.json``, is what the app's gate reads to decide who opens the run's
page and downloads its files: administrators, anyone whose groups may open the report, and everyone the
schedule delivered it to (by name or group). It is written by the scheduler right after the run, from what it
knows then, so a schedule edited later does not change who may open an old run.

The page is the report's result as the form shows it: the outcome HTML the report displayed (saved in the
executed notebook), with no code, no parameters cell and no server paths; its files are buttons under the
page's own address (``<run id>/<file>``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ..access.identity import Person
from ..access.rules import may_open
from ..access.users import write_private_json
from ..catalog import AUDIENCES, report_catalog
from ..config import Settings
from .message import headline_figures
from .recipients import Deliver, may_receive

TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parents[1] / "web" / "page_templates" / "run"),
                               autoescape=True)
HIDDEN_TAGS = {"parameters", "injected-parameters"}
RUN_ID = re.compile(r"^[0-9a-f]{8,32}$")


@dataclass(frozen=True)
class RunManifest:
    """Who may open one scheduled run and which files it made (names as served, paths on disk)."""

    job: str
    run_id: str
    notebook: str  # relative to the notebooks folder
    title: str
    status: str  # "ran", "failed" or "timed_out"
    finished_at: str  # ISO, UTC
    to: tuple[str, ...] = ()
    slack: str = ""
    files: dict[str, str] = field(default_factory=dict)  # file name -> path on disk
    headline: dict[str, Any] | None = None
    rows: int | None = None

    def may_open(self, person: Person, notebooks: Path) -> bool:
        """Admins, people whose groups may open the report, and everyone the run was delivered to."""
        return person.is_admin or may_receive(person, self.to) or may_open(person, notebooks, self.notebook)

    def file_path(self, name: str) -> Path | None:
        """The file behind one of the run's download buttons, or None if the run made no such file."""
        path = self.files.get(name)
        return Path(path) if path else None


def manifest_path(settings: Settings, job: str, run_id: str) -> Path:
    return settings.reports_dir / "runs" / job / f"{run_id}.json"


def write_manifest(settings: Settings, manifest: RunManifest) -> Path:
    """Beside the run, owner-only and whole (written aside, then renamed)."""
    path = manifest_path(settings, manifest.job, manifest.run_id)
    write_private_json(path, {**asdict(manifest), "to": list(manifest.to)})
    return path


def read_manifest(settings: Settings, job: str, run_id: str) -> RunManifest | None:
    """The run's manifest, or None for a run made before manifests (or a run id that is not one)."""
    if not RUN_ID.match(run_id):
        return None
    try:
        data = json.loads(manifest_path(settings, job, run_id).read_text(encoding="utf-8"))
        return RunManifest(**{**data, "to": tuple(data.get("to", ()))})
    except (OSError, ValueError, TypeError):
        return None


def new_manifest(settings: Settings, job: str, run_id: str, notebook: Path, deliver: Deliver | None, status: str,
                 files: Iterable[Path] = (), headline: Mapping[str, Any] | None = None,
                 rows: int | None = None) -> RunManifest:
    """What the scheduler knows right after a run, as a manifest."""
    relative = notebook.resolve().relative_to(settings.notebooks.resolve()).as_posix()
    return RunManifest(job, run_id, relative, report_title(settings.notebooks, relative), status,
                       dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), deliver.to if deliver else (),
                       deliver.slack if deliver else "", {path.name: str(path) for path in files},
                       dict(headline) if headline else None, rows)


def report_title(notebooks: Path, relative: str) -> str:
    """The report's title as the start page shows it."""
    return next((entry.title for entry in report_catalog(notebooks) if entry.path == relative), Path(relative).stem)


def result_parts(notebook: Any, hidden: Iterable[str] = ()) -> list[str]:
    """The HTML pieces a person saw: each rich output of a cell that is not a parameters cell, and each error as
    one plain sentence (never its traceback). ``hidden`` are texts (server paths) taken out of error messages."""
    parts = []
    for cell in notebook.cells:
        if cell.get("cell_type") != "code" or HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                parts.append(_error_html(output.get("evalue") or output.get("ename", ""), hidden))
            elif "text/html" in output.get("data", {}):
                parts.append(str(output["data"]["text/html"]))
    return parts


def _error_html(text: str, hidden: Iterable[str]) -> str:
    for secret in hidden:
        text = text.replace(secret, "…")
    return f"<p class='run-error'>This run failed: {html.escape(text)}</p>"


def run_page_html(settings: Settings, executed: Path, manifest: RunManifest, timezone: str = "UTC") -> str:
    """The run's page: the title, when it ran, the result the report displayed, and who it went to."""
    import nbformat  # noqa: PLC0415 - only where pages are rendered

    notebook = nbformat.read(executed, as_version=4)
    parts = result_parts(notebook, [str(settings.home), str(settings.notebooks), str(executed.parent)])
    return TEMPLATES.get_template("page.html").render(
        title=manifest.title, when=_when(manifest.finished_at, timezone), failed=manifest.status != "ran",
        headline=headline_figures(manifest.headline), parts=parts,
        to=[AUDIENCES.get(name, name) for name in manifest.to], slack=manifest.slack, job=manifest.job)


def _when(finished_at: str, timezone: str) -> str:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    moment = dt.datetime.fromisoformat(finished_at).astimezone(ZoneInfo(timezone))
    return f"{moment:%d.%m.%Y %H:%M} ({timezone})"
