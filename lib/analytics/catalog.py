"""Report discovery: every notebook under ``notebooks/`` with its title, description and audience.

Used by the start page, by preheating (one warm kernel per report) and, next, by schedules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

AUDIENCES = {"account_managers": "Account managers", "marketing": "Marketers", "analysts": "Analysts",
             "monitoring": "On-call analysts", "admin": "Administrators"}


@dataclass(frozen=True)
class ReportEntry:
    path: str  # relative to the notebooks folder, with forward slashes
    title: str
    description: str
    audience: str


def report_notebooks(notebooks: Path) -> list[Path]:
    return sorted(path for path in notebooks.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts)


def report_catalog(notebooks: Path) -> list[ReportEntry]:
    """Title, one-line description and audience of every report notebook (from its first markdown cell)."""
    reports = []
    for path in report_notebooks(notebooks):
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        text = next(("".join(c["source"]) for c in cells if c.get("cell_type") == "markdown"), "")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        title = lines[0].lstrip("# ") if lines else path.stem
        description = lines[1] if len(lines) > 1 else ""
        folder = path.parent.relative_to(notebooks).parts
        audience = AUDIENCES.get(folder[0], folder[0].replace("_", " ").capitalize()) if folder else ""
        reports.append(ReportEntry(path.relative_to(notebooks).as_posix(), title, description, audience))
    return reports
