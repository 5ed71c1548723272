"""Retention: export files and executed notebooks older than ``ANALYTICS_KEEP_FILES_DAYS`` are removed.

Run by ``analytics cleanup`` now (and by the scheduler when it exists). Audit rows are never removed:
the audit table is not touched here, and a cleanup is itself recorded in it. Files are chosen by
their modification time; only regular files under ``reports/exports/``, ``reports/runs/`` and
``reports/cohorts/`` (downloaded Amplitude cohorts) go.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .audit import AuditEvent, AuditLog
from .config import Settings, load_settings

FOLDERS = ("exports", "runs", "cohorts")


@dataclass
class Cleanup:
    removed: list[Path] = field(default_factory=list)
    freed_bytes: int = 0
    kept: int = 0


def cleanup(settings: Settings | None = None, *, older_than_days: float | None = None, dry_run: bool = False,
            now: float | None = None) -> Cleanup:
    """Remove old export files and executed notebooks; write pending audit rows; record the cleanup."""
    settings = settings or load_settings()
    days = settings.keep_files_days if older_than_days is None else older_than_days
    cutoff = (now or time.time()) - days * 86400
    result = Cleanup()
    for folder in FOLDERS:
        root = settings.reports_dir / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or path.is_symlink():
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
        log = AuditLog(settings)
        try:
            log.flush()
            log.record(AuditEvent("cleanup", parameters={"older_than_days": days, "files_removed": len(result.removed),
                                                         "bytes_freed": result.freed_bytes}))
        finally:
            log.close()
    return result
