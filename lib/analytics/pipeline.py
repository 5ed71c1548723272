"""One run of a report, the same for the form, ``analytics run`` and the scheduler.

validate → query → snapshot → files → run log: :func:`run_report` resolves the values (the
warehouse's lists included), asks the report for its query, streams the rows once into a
temporary Arrow file (memory stays flat, with progress and a chance to cancel between
chunks), writes every file format from that one snapshot, so the preview, the XLSX and the
CSV always agree, and logs the run under its id in ``reports/logs/runs.log``. A person sees
a short message with the id; the traceback stays in the log.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .access.identity import current_client, current_user, user_folder
from .audit import INTERRUPTED, AuditEvent, audit, file_sha256, interrupted_runs, run_ended, run_started
from .config import Settings, load_settings
from .db import Database
from .errors import AnalyticsError, ParameterError
from .exports import ExportResult
from .exports.files import open_private, private_folder
from .exports.spool import export_query as _export_query
from .params import FormInvalid, Parameter, as_error, check_effective, resolve
from .progress import Status, listening
from .reports import ReportQuery
from .warehouse.lookups import Lookups

PREVIEW_ROWS = 20
DELIMITERS = {"comma": ",", "semicolon": ";"}
RUNTIME_PARAMETERS = ("csv_delimiter",)  # read by the pipeline, never passed to the report function
RUN_ID_ENV = "ANALYTICS_RUN_ID"  # set by the notebook runner, so the kernel's run shares the runner's id

Progress = Callable[[int], None]
Report = Callable[..., ReportQuery]
FirstLook = Callable[["RunOutcome"], None]  # the outcome before its files: the page shows it while they are written


class RunCancelled(AnalyticsError):
    """The person pressed Cancel; nothing was written."""

    def __init__(self) -> None:
        super().__init__("The run was cancelled; no file was written.")


@dataclass
class RunOutcome:
    """What one run produced, as values: every renderer (form, headless output, Slack) starts from it."""

    run_id: str
    query: ReportQuery
    rows: int
    preview: pd.DataFrame
    files: list[ExportResult] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    file_labels: dict[str, str] = field(default_factory=dict)  # file name: which result it holds ("Control group")

    @property
    def summary(self) -> str:
        return f"{self.query.title}: {self.rows:,} rows."

    @property
    def labelled_preview(self) -> pd.DataFrame:
        """The preview with the columns' plain labels, as in the files."""
        return self.preview.rename(columns=self.query.headers)


def split_values(values: Mapping[str, object]) -> tuple[dict[str, object], str]:
    """The report's own values, and the CSV delimiter a notebook may declare as ``csv_delimiter``."""
    report_values = {name: value for name, value in values.items() if name not in RUNTIME_PARAMETERS}
    chosen = values.get("csv_delimiter", "comma")
    if chosen not in DELIMITERS:  # resolve() has checked declared choices; this guards direct callers
        raise FormInvalid({"csv_delimiter": f"must be one of: {', '.join(DELIMITERS)}"})
    return report_values, DELIMITERS[str(chosen)]


def new_run_id() -> str:
    """The run's id: the runner's (so the executed notebook and the log join), or a new one."""
    return os.environ.get(RUN_ID_ENV) or secrets.token_hex(4)


def run_log(settings: Settings) -> logging.Logger:
    """The runs logger writing to ``reports/logs/runs.log`` of *these* settings (one handler per file)."""
    path = (settings.reports_dir / "logs" / "runs.log").resolve()
    logger = logging.getLogger(f"analytics.runs.{path}")
    if not logger.handlers:
        open_private(path).close()  # created 0600 whatever the process's umask
        handler = _RunLogHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


class _RunLogHandler(logging.FileHandler):
    """``runs.log``: a line it cannot write (a full disk) is said in one plain line on stderr, not a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or error
        sys.stderr.write(f"analytics: a line could not be written to {self.baseFilename} ({reason})\n")


def validate(parameters: Sequence[Parameter], given: Mapping[str, Any], db: Database) -> dict[str, Any]:
    """Every value converted and checked, the warehouse's lists included; FormInvalid names each bad field."""
    return resolve(parameters, given, Lookups(db))


def run_report(report: Report, parameters: Sequence[Parameter], given: Mapping[str, Any], db: Database, *,
               settings: Settings | None = None, formats: tuple[str, ...] = ("xlsx", "csv"),
               progress: Progress | None = None, cancelled: threading.Event | None = None,
               run_id: str | None = None, user: str | None = None, status: Status | None = None,
               first_look: FirstLook | None = None) -> RunOutcome:
    """Validate the values, build the report's query, and run it into files (see :func:`execute`).

    A value the form accepts but the data contradicts (a report's ParameterError) is refused the
    same way as a malformed one: FormInvalid, naming the field.
    """
    settings = settings or load_settings()
    with db.snapshot():  # the embedded store reads one fixed list of parts for the whole run
        values = validate(parameters, given, db)
        report_values, delimiter = split_values(values)
        try:
            with listening(status):  # a long report step's words reach the form's status line
                query = report(db, **report_values)
        except ParameterError as refused:
            raise as_error(refused) from None
        check_effective(parameters, values, query.effective)
        outcome = execute(query, db, settings=settings, formats=formats, delimiter=delimiter, progress=progress,
                          cancelled=cancelled, run_id=run_id, user=user, values=values, first_look=first_look)
    return outcome


def execute(query: ReportQuery, db: Database, *, settings: Settings | None = None, formats: tuple[str, ...] = ("xlsx", "csv"),
            delimiter: str = ",", progress: Progress | None = None, cancelled: threading.Event | None = None,
            run_id: str | None = None, user: str | None = None, values: Mapping[str, Any] | None = None,
            first_look: FirstLook | None = None) -> RunOutcome:
    """Run one report query and write its files under ``reports/exports/<user>/``; audit the run and each file.

    ``first_look`` gets the outcome as soon as the rows are read, before any file is written: a big
    workbook (an A/B summary's million per-user rows) then does not hold back the verdicts on the page.

    The files land in the folder of the person the run is for (``user``, else :func:`current_user`), and
    the app lets only that person (or an admin) download them.
    """
    settings = settings or load_settings()
    run_id = run_id or new_run_id()
    user = user or current_user()
    values = dict(values if values is not None else query.params)
    log = run_log(settings)
    log.info("run %s: %s %s for %s", run_id, query.name, query.params, user)
    folder = private_folder(settings.reports_dir / "exports" / user_folder(user))
    look = None
    if first_look is not None:
        def look(rows: int, preview: pd.DataFrame) -> None:
            first_look(RunOutcome(run_id, query, rows, preview, [], dict(values)))
    marker = run_started(settings, "report", run_id, report=query.name, user=user, client=current_client(),
                         parameters=values)  # a kill -9 before the outcome is recorded still leaves a record
    try:
        try:
            rows, preview, files = _export_query(query, db, folder, formats, delimiter, progress, cancelled, run_id, look)
            for extra in query.also:
                files += _export_query(extra, db, folder, formats, delimiter, None, cancelled, run_id)[2]
        except AnalyticsError as error:
            log.info("run %s stopped", run_id, exc_info=True)
            _audit_run(settings, "run_failed", query, values, run_id, user, detail=str(error))
            raise
        except Exception as error:
            log.exception("run %s failed", run_id)
            _audit_run(settings, "run_failed", query, values, run_id, user, detail=_plain(error))
            raise
        log.info("run %s: %d rows, files %s", run_id, rows, [str(result.path) for _, result in files])
        _audit_run(settings, "run", query, values, run_id, user, rows=rows)
        for part, result in files:
            audit(AuditEvent("export", part.name, values, result.rows, result.path.name, file_sha256(result.path), run_id,
                             user), settings)
    finally:
        run_ended(marker)
    labels = {result.path.name: part.label for part, result in files if part.label}
    return RunOutcome(run_id, query, rows, preview, [result for _, result in files], values, labels)


def recover_interrupted_reports(settings: Settings) -> list[str]:
    """Runs whose process was killed before their outcome was recorded (the app killed mid-export): each
    becomes a ``run_failed`` audit row, "interrupted: the process stopped". Returns their run ids."""
    recovered = []
    for marker, run in interrupted_runs(settings, "report"):
        parameters = {**run.get("parameters", {}), "error": INTERRUPTED}
        event = AuditEvent("run_failed", run.get("report", ""), parameters, run_id=run["run_id"], user=run.get("user", ""),
                           client=run.get("client", ""), event_id=f"interrupted-{run['run_id']}")
        if audit(event, settings):  # else the marker stays for the next start; the event id makes it one row
            run_ended(marker)
        recovered.append(run["run_id"])
    return recovered


def _plain(error: Exception) -> str:
    if isinstance(error, OSError) and error.errno is not None:
        return f"{error.strerror or error} ({error.filename})" if error.filename else str(error.strerror or error)
    return type(error).__name__


def _audit_run(settings: Settings, action: str, query: ReportQuery, values: Mapping[str, Any], run_id: str, user: str,
               *, rows: int | None = None, detail: str = "") -> None:
    parameters = {**values, **({"error": detail} if detail else {})}
    audit(AuditEvent(action, query.name, parameters, rows, run_id=run_id, user=user), settings)
