"""Running a report notebook headless through papermill, as ``analytics run`` and the scheduler do."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings, load_settings
from .errors import AnalyticsError
from .page import NOTEBOOK_ENV


class NotebookFailed(AnalyticsError):
    """A cell raised; the executed notebook was still written, with the failing cell marked."""

    def __init__(self, message: str, executed: Path) -> None:
        self.executed = executed
        super().__init__(f"{message} (the executed notebook is {executed})")


@dataclass(frozen=True)
class NotebookRun:
    executed: Path
    files: list[Path]


def run_notebook(notebook: Path, parameters: Mapping[str, Any] | None = None, *,
                 settings: Settings | None = None, output: Path | None = None) -> NotebookRun:
    """Execute ``notebook`` with injected ``parameters``; the executed copy lands in reports/runs/."""
    import papermill  # noqa: PLC0415 - heavy
    from papermill.exceptions import PapermillExecutionError  # noqa: PLC0415

    settings = settings or load_settings()
    notebook = notebook.resolve()
    if not notebook.is_file():
        raise AnalyticsError(f"There is no notebook at {notebook}.")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    output = output or settings.reports_dir / "runs" / f"{notebook.stem}_{stamp}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("r", suffix=".files", delete=False) as listing:
        manifest = Path(listing.name)
    environment = {NOTEBOOK_ENV: str(notebook), "ANALYTICS_RUN_MANIFEST": str(manifest),
                   "ANALYTICS_HOME": str(settings.home), "ANALYTICS_DB_URL": settings.database_url}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)  # the kernel papermill starts inherits them
    try:
        papermill.execute_notebook(str(notebook), str(output), parameters=dict(parameters or {}),
                                   cwd=str(notebook.parent), progress_bar=False, kernel_name="python3")
        files = [Path(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line]
    except PapermillExecutionError as error:
        raise NotebookFailed(f"{error.ename}: {error.evalue}", output) from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        manifest.unlink(missing_ok=True)
    return NotebookRun(output, files)
