"""The Run pipeline shared by every report: validate, query, preview, files.

The query runs once: its rows stream into a temporary Arrow file (memory stays flat, with
progress and a chance to cancel between chunks), then every file format is written from
that one snapshot, so the XLSX and the CSV always agree. Each run has an id; tracebacks go
to ``reports/logs/runs.log`` under it, and a person sees a short message with the id.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .config import Settings, load_settings
from .db import Database
from .errors import AnalyticsError
from .exports import ExportResult, export
from .reports import ReportQuery

PREVIEW_ROWS = 20
DELIMITERS = {"comma": ",", "semicolon": ";"}
RUNTIME_PARAMETERS = ("csv_delimiter",)  # read by the runtime, never passed to the report function

Progress = Callable[[int], None]


class RunCancelled(AnalyticsError):
    """The person pressed Cancel; nothing was written."""

    def __init__(self) -> None:
        super().__init__("The run was cancelled; no file was written.")


@dataclass
class RunOutcome:
    run_id: str
    query: ReportQuery
    rows: int
    preview: pd.DataFrame
    files: list[ExportResult] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return f"{self.query.title}: {self.rows:,} rows."


def split_values(values: dict[str, object]) -> tuple[dict[str, object], str]:
    """The report's own values, and the CSV delimiter a notebook may declare as ``csv_delimiter``."""
    report_values = {name: value for name, value in values.items() if name not in RUNTIME_PARAMETERS}
    return report_values, DELIMITERS.get(str(values.get("csv_delimiter", "comma")), ",")


def new_run_id() -> str:
    return secrets.token_hex(4)


def run_log(settings: Settings) -> logging.Logger:
    """The runs logger, writing to reports/logs/runs.log (set up once per process)."""
    logger = logging.getLogger("analytics.runs")
    if not logger.handlers:
        folder = settings.reports_dir / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(folder / "runs.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def execute(query: ReportQuery, db: Database, *, settings: Settings | None = None, formats: tuple[str, ...] = ("xlsx", "csv"),
            delimiter: str = ",", progress: Progress | None = None, cancelled: threading.Event | None = None,
            run_id: str | None = None) -> RunOutcome:
    """Run one report query and write its files under reports/exports/."""
    settings = settings or load_settings()
    run_id = run_id or new_run_id()
    log = run_log(settings)
    log.info("run %s: %s %s", run_id, query.name, query.params)
    folder = settings.reports_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    spool = folder / f".spool-{run_id}-{secrets.token_hex(4)}.arrow"
    try:
        rows, preview = _spool(db.iter_chunks(query.sql, query.params), spool, progress, cancelled)
        files = [export(_read_spool(spool), folder, query.name, query.key_params, file_format=file_format,
                        delimiter=delimiter, headers=query.headers) for file_format in formats]
    except AnalyticsError:
        log.info("run %s stopped", run_id, exc_info=True)
        raise
    except Exception:
        log.exception("run %s failed", run_id)
        raise
    finally:
        spool.unlink(missing_ok=True)
    log.info("run %s: %d rows, files %s", run_id, rows, [str(result.path) for result in files])
    return RunOutcome(run_id, query, rows, preview, files)


def _spool(chunks: Iterator[pa.Table], path: Path, progress: Progress | None,
           cancelled: threading.Event | None) -> tuple[int, pd.DataFrame]:
    rows = 0
    preview: pa.Table | None = None
    writer = None
    try:
        for chunk in chunks:
            if cancelled is not None and cancelled.is_set():
                raise RunCancelled()
            if writer is None:
                writer = pa.ipc.new_file(str(path), chunk.schema)
                preview = chunk.slice(0, PREVIEW_ROWS)
            writer.write_table(chunk)
            rows += chunk.num_rows
            if progress is not None:
                progress(rows)
    finally:
        if writer is not None:
            writer.close()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # stops the query on the server when cancelled
    assert preview is not None  # every backend yields at least one (maybe empty) chunk
    return rows, preview.to_pandas()


def _read_spool(path: Path) -> Iterator[pa.Table]:
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        if reader.num_record_batches == 0:
            yield reader.schema.empty_table()
        for index in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(index)])


def manifest(paths: list[Path]) -> None:
    """Tell ``analytics run`` which files this run produced (one path per line)."""
    target = os.environ.get("ANALYTICS_RUN_MANIFEST")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.writelines(f"{path}\n" for path in paths)
