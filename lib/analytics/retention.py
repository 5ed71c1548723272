"""Retention: export files older than ``ANALYTICS_KEEP_FILES_DAYS`` are removed, and scheduled runs (executed
notebooks, their HTML, ``job_runs`` partitions) older than ``ANALYTICS_KEEP_RUNS_DAYS``.

Run by ``analytics cleanup`` and once a day by the scheduler. Audit rows are never removed:
the audit table is not touched here, and a cleanup is itself recorded in it. Files are chosen by
their modification time; only regular files under ``reports/exports/``, ``reports/runs/``,
``reports/cohorts/`` (downloaded Amplitude cohorts) and ``reports/uploads/`` (files people uploaded) go.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

from .audit import AuditEvent, AuditLog
from .config import Settings, load_settings
from .parked import is_queue_file

FOLDERS = ("exports", "runs", "cohorts", "uploads")


@dataclass
class Cleanup:
    removed: list[Path] = field(default_factory=list)
    freed_bytes: int = 0
    kept: int = 0
    partitions: list[str] = field(default_factory=list)  # job_runs months dropped
    parked: list[str] = field(default_factory=list)  # rows that still wait in an outage queue, in plain words


def _scheduler_state(path: Path) -> bool:
    """A job's run lock, its newest claim (where a restarted scheduler knows it stopped) and the job_runs rows
    parked by an outage stay."""
    if path.name == ".running" or is_queue_file(path):
        return True
    if path.parent.name == "claims":
        return path.name == max(entry.name for entry in path.parent.iterdir())
    return False


def drop_old_job_runs(settings: Settings, cutoff: float) -> list[str]:
    """Drop the months of ``job_runs`` that end before ``cutoff`` (a month goes whole, as partitions do)."""
    from .db import connect  # noqa: PLC0415
    from .scheduler.jobs import JOB_RUNS  # noqa: PLC0415

    month = dt.datetime.fromtimestamp(cutoff, dt.UTC).strftime("%Y%m")
    with connect(settings.writer_url, settings=settings) as db:
        if JOB_RUNS.name not in db.tables():
            return []
        old = sorted(partition for partition in db.partitions(JOB_RUNS.name) if partition < month)
        if old:
            db.drop_partitions(JOB_RUNS.name, old)
        return old


def cleanup(settings: Settings | None = None, *, older_than_days: float | None = None, dry_run: bool = False,
            now: float | None = None) -> Cleanup:
    """Remove old export files and executed notebooks; write pending audit rows; record the cleanup."""
    settings = settings or load_settings()
    days = settings.keep_files_days if older_than_days is None else older_than_days
    run_days = settings.keep_runs_days if older_than_days is None else older_than_days
    result = Cleanup()
    for folder in FOLDERS:
        root = settings.reports_dir / folder
        if not root.is_dir():
            continue
        cutoff = (now or time.time()) - (run_days if folder == "runs" else days) * 86400
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.is_symlink() or _scheduler_state(path):
                continue
            info = path.stat()
            if info.st_mtime >= cutoff:
                result.kept += 1
                continue
            if not dry_run:
                path.unlink(missing_ok=True)
            result.removed.append(path)
            result.freed_bytes += info.st_size
    if not dry_run:
        result.partitions = drop_old_job_runs(settings, (now or time.time()) - run_days * 86400)
        result.parked = _flush_parked(settings)
        log = AuditLog(settings)
        try:
            log.record(AuditEvent("cleanup", parameters={"older_than_days": days, "files_removed": len(result.removed),
                                                         "bytes_freed": result.freed_bytes}))
        finally:
            log.close()
    return result


def _flush_parked(settings: Settings) -> list[str]:
    """Retry every parked audit event and job_runs row, the refused ones too; say what still waits, and why."""
    from .scheduler.jobs import JobLog  # noqa: PLC0415

    audit_log, job_log = AuditLog(settings), JobLog(settings)
    try:
        reports = [(audit_log.pending, audit_log.flush()), (job_log.pending, job_log.flush())]
    finally:
        audit_log.close()
    return [f"{path}: {report.waiting} row(s) wait for the database, {report.rejected} refused by it (the reason is "
            "on each line)" for path, report in reports if report.waiting or report.rejected]
