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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .access.identity import user_folder
from .audit import INTERRUPTED, AuditEvent, audit, file_sha256, interrupted_runs, run_ended, run_started
from .config import Settings
from .context import RunCancelled, RunContext
from .db import Database
from .errors import AnalyticsError, ParameterError
from .exports import ExportResult
from .exports.files import open_private, private_folder
from .exports.spool import export_query as _export_query
from .params import FormInvalid, Parameter, as_error, check_effective, resolve
from .progress import listening
from .results import ReportQuery, Result, WritePlan
from .warehouse.lookups import Lookups

DELIMITERS = {"comma": ",", "semicolon": ";"}
RUNTIME_PARAMETERS = ("csv_delimiter",)  # read by the pipeline, never passed to the report function
RUN_ID_ENV = "ANALYTICS_RUN_ID"  # set by the notebook runner, so the kernel's run shares the runner's id

Report = Callable[..., Result]
FirstLook = Callable[["RunOutcome"], None]  # the outcome before its files: the page shows it while they are written


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
    saved: str = ""  # what the run wrote before its files ("Saved: audience spring_push version 2 (12,345 people).")

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


def run_report(report: Report, parameters: Sequence[Parameter], given: Mapping[str, Any], ctx: RunContext, *,
               formats: tuple[str, ...] = ("xlsx", "csv"), first_look: FirstLook | None = None) -> RunOutcome:
    """Validate the values, call the report with the run's context, commit what it plans to write, export.

    Reading (the values' lists, the report's queries, a plan) happens in one snapshot. A report that writes
    returns a :class:`WritePlan`: Cancel is checked before its commit, the commit runs outside the snapshot
    with the run's writer and is audited as a ``write``, and the files are exported from what was committed.
    A value the data contradicts (a report's ParameterError) is refused like a malformed one: FormInvalid,
    naming the field. Any failure after the values are valid is audited as ``run_failed`` under the run's id,
    the one the person is shown. The writer, if the run opened one, is closed at the end.
    """
    name = getattr(report, "__name__", "report")
    marker = None
    values: dict[str, Any] = {}
    try:
        with ctx.reader.snapshot():  # the embedded store reads one fixed list of parts for the planning
            values = validate(parameters, given, ctx.reader)
            report_values, delimiter = split_values(values)
            marker = run_started(ctx.settings, "report", ctx.run_id, report=name, user=ctx.user, client=ctx.client,
                                 parameters=values)  # a kill -9 before the outcome is recorded still leaves a record
            result = _call(report, ctx, report_values)
            if isinstance(result, ReportQuery):
                check_effective(parameters, values, result.effective)
                return execute(result, ctx, formats=formats, delimiter=delimiter, values=values, first_look=first_look,
                               audited=True)
        query = commit(result, ctx)
        check_effective(parameters, values, query.effective)
        with ctx.reader.snapshot():  # a new one: it holds what was just committed
            return execute(query, ctx, formats=formats, delimiter=delimiter, values=values, first_look=first_look,
                           audited=True, saved=f"Saved: {result.what}.")
    except FormInvalid:
        raise
    except Exception as error:
        if marker is not None:  # valid values, then a failure: the run's id is in the audit and on the page
            run_log(ctx.settings).log(logging.INFO if isinstance(error, AnalyticsError) else logging.ERROR,
                                      "run %s failed", ctx.run_id, exc_info=True)
            _audit_run(ctx, "run_failed", name, values, detail=str(error) if isinstance(error, AnalyticsError)
                       else _plain(error))
        raise
    finally:
        run_ended(marker)
        ctx.close()


def _call(report: Report, ctx: RunContext, values: Mapping[str, Any]) -> Result:
    try:
        with listening(ctx.status):  # library steps deep below the report say what they do on the same line
            return report(ctx, **values)
    except ParameterError as refused:
        raise as_error(refused) from None


def commit(plan: WritePlan, ctx: RunContext) -> ReportQuery:
    """Write what the report planned, unless Cancel came first; audit it as a ``write`` (or its failure)."""
    ctx.stop_if_cancelled()
    ctx.say(f"Saving {plan.what}…")
    try:
        query = plan.commit(ctx)
    except ParameterError as refused:  # the data says no (a week not over yet): the form names the field
        raise as_error(refused) from None
    except RunCancelled:
        raise  # stopped between its steps (a recalculation between days): what was written is in the audit
    except Exception as error:
        detail = str(error) if isinstance(error, AnalyticsError) else _plain(error)
        audit(AuditEvent("write_failed", plan.target, {**plan.parameters, "error": detail}, plan.rows,
                         run_id=ctx.run_id, user=ctx.user, client=ctx.client), ctx.settings)
        raise
    if not plan.audits_itself:
        audit(AuditEvent("write", plan.target, plan.parameters, plan.rows, run_id=ctx.run_id, user=ctx.user,
                         client=ctx.client), ctx.settings)
    return query


def execute(query: ReportQuery, ctx: RunContext, *, formats: tuple[str, ...] = ("xlsx", "csv"), delimiter: str = ",",
            values: Mapping[str, Any] | None = None, first_look: FirstLook | None = None, audited: bool = False,
            saved: str = "") -> RunOutcome:
    """Run one report query and write its files under ``reports/exports/<user>/``; audit the run and each file.

    ``first_look`` gets the outcome as soon as the rows are read, before any file is written: a big
    workbook (an A/B summary's million per-user rows) then does not hold back the verdicts on the page.
    The files land in the folder of the person the run is for (``ctx.user``); the app lets only that person
    (or an admin) download them. ``saved`` says what the run committed before: a Cancel during the export
    then says it was saved. ``audited``: the caller (:func:`run_report`) records failures and the marker.
    """
    settings, run_id, user = ctx.settings, ctx.run_id, ctx.user
    values = dict(values if values is not None else query.params)
    log = run_log(settings)
    log.info("run %s: %s %s for %s", run_id, query.name, query.params, user)
    folder = private_folder(settings.reports_dir / "exports" / user_folder(user))
    look = None
    if first_look is not None:
        def look(rows: int, preview: pd.DataFrame) -> None:
            first_look(RunOutcome(run_id, query, rows, preview, [], dict(values), saved=saved))
    marker = None if audited else run_started(settings, "report", run_id, report=query.name, user=user,
                                              client=ctx.client, parameters=values)
    try:
        try:
            files: list[tuple[ReportQuery, ExportResult]] = []
            rows, preview, files = _export_query(query, ctx.reader, folder, formats, delimiter, ctx.progress,
                                                 ctx.cancelled, run_id, look)
            for extra in query.also:
                files += _export_query(extra, ctx.reader, folder, formats, delimiter, None, ctx.cancelled, run_id)[2]
        except RunCancelled:
            for _, result in files:  # a run's files are all there or none: the target group without its control is wrong
                result.path.unlink(missing_ok=True)
            raise RunCancelled(saved) from None
        except Exception as error:
            if not audited:
                log.info("run %s failed", run_id, exc_info=True)
                _audit_run(ctx, "run_failed", query.name, values,
                           detail=str(error) if isinstance(error, AnalyticsError) else _plain(error))
            raise
        log.info("run %s: %d rows, files %s", run_id, rows, [str(result.path) for _, result in files])
        _audit_run(ctx, "run", query.name, values, rows=rows)
        for part, result in files:
            audit(AuditEvent("export", part.name, values, result.rows, result.path.name, file_sha256(result.path), run_id,
                             user, client=ctx.client), settings)
    finally:
        run_ended(marker)
    labels = {result.path.name: part.label for part, result in files if part.label}
    return RunOutcome(run_id, query, rows, preview, [result for _, result in files], values, labels, saved=saved)


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


def _audit_run(ctx: RunContext, action: str, report: str, values: Mapping[str, Any], *, rows: int | None = None,
               detail: str = "") -> None:
    parameters = {**values, **({"error": detail} if detail else {})}
    audit(AuditEvent(action, report, parameters, rows, run_id=ctx.run_id, user=ctx.user, client=ctx.client),
          ctx.settings)
