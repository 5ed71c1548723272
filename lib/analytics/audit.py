"""The audit trail: who ran, exported, downloaded or wrote what, when, from where, and the file's SHA-256.

One row per event in ``audit_log``, written by the writer account with the event's id as the insert
token, so a retried write never makes a second row. When the database cannot take the row (an
outage), the event goes to ``reports/audit/pending.jsonl`` and is written with the next event that
gets through (or by ``analytics cleanup``): an audit row is never lost, and never removed by retention.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import secrets
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .access.identity import current_client, current_user
from .config import Settings, load_settings
from .db import Database, TableSpec, connect
from .exports.files import private_folder, process_alive

log = logging.getLogger(__name__)

ACTIONS = ("run", "run_failed", "export", "download", "write", "write_failed", "sign_in", "sign_in_refused", "cleanup")
AUDIT_TABLE = TableSpec("audit_log", {
    "event_id": "String", "at": "DateTime", "user": "String", "action": "String", "report": "String",
    "parameters": "String", "rows": "Nullable(UInt64)", "file": "String", "sha256": "String", "client": "String",
    "run_id": "String",
}, order_by=("at", "event_id"), partition_by="toYYYYMM(at)", description="Who ran, exported, downloaded or wrote what",
    labels={"event_id": "Event", "at": "When (UTC)", "user": "Who", "action": "What", "report": "Report",
            "parameters": "Parameters", "rows": "Rows", "file": "File", "sha256": "SHA-256 of the file",
            "client": "From address", "run_id": "Run"})
READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class AuditEvent:
    action: str
    report: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    rows: int | None = None
    file: str = ""
    sha256: str = ""
    run_id: str = ""
    user: str = field(default_factory=current_user)
    client: str = field(default_factory=current_client)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
    event_id: str = field(default_factory=lambda: secrets.token_hex(12))

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        values["parameters"] = json.dumps(self.parameters, default=str, ensure_ascii=False, sort_keys=True)
        return values


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _table(events: Iterable[AuditEvent]) -> pa.Table:
    rows = [event.row() for event in events]
    columns = {name: [row[name] for row in rows] for name in AUDIT_TABLE.columns}
    types = {"at": pa.timestamp("s"), "rows": pa.uint64()}
    return pa.table({name: pa.array(values, type=types.get(name, pa.string())) for name, values in columns.items()})


class AuditLog:
    """Writes audit events through the writer account; keeps one connection per process, opened when first needed."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.pending = self.settings.reports_dir / "audit" / "pending.jsonl"
        self._db: Database | None = None
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> bool:
        """Write the event; True when it reached the database, False when it waits in the pending file.

        Never raises: the database first (then what waits in the pending file, so a full disk that cannot
        take the pending file loses nothing while the database is up); the pending file when the database
        is not; and when neither takes it, one plain line on stderr names the event.
        """
        with self._lock:
            try:
                self._write([event])
            except Exception as outage:  # noqa: BLE001 - an outage must not lose the row nor stop the person's work
                self._reset()
                return self._park(event, outage)
            try:
                self._flush_pending()
            except Exception as outage:  # noqa: BLE001 - they wait for the next event or `analytics cleanup`
                log.warning("audit: rows in %s still wait (%s)", self.pending, _one_line(outage))
                self._reset()
            return True

    def flush(self) -> int:
        """Write events left in the pending file by an outage; returns how many were pending."""
        with self._lock:
            return self._flush_pending()

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _database(self) -> Database:
        if self._db is None:
            db = connect(self.settings.writer_url, settings=self.settings)
            try:
                if AUDIT_TABLE.name not in db.tables():
                    db.create_table(AUDIT_TABLE)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _write(self, events: list[AuditEvent]) -> None:
        db = self._database()
        for event in events:  # one token per event: a retry of any of them is a no-op
            db.insert(AUDIT_TABLE.name, _table([event]), token=f"audit-{event.event_id}")

    def _reset(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None

    def _park(self, event: AuditEvent, outage: Exception) -> bool:
        try:
            self._append_pending(event)
        except OSError as full:  # a full disk (or no rights): the last resort is the process's stderr
            reason = full.strerror or full
            sys.stderr.write(f"audit: {event.action} of {event.report or '-'} by {event.user} at {event.at:%Y-%m-%d %H:%M:%S} "
                             f"UTC (run {event.run_id or '-'}, event {event.event_id}) could not be recorded: the "
                             f"database did not take it ({_one_line(outage)}) and {self.pending} could not be "
                             f"written ({reason})\n")
            return False
        log.warning("audit: database unavailable (%s); event %s kept in %s", _one_line(outage), event.event_id,
                    self.pending)
        return False

    def _append_pending(self, event: AuditEvent) -> None:
        private_folder(self.pending.parent)
        line = json.dumps({**event.row(), "at": event.at.isoformat()}, ensure_ascii=False) + "\n"
        descriptor = os.open(self.pending, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def _flush_pending(self) -> int:
        if not self.pending.exists():
            return 0
        with self.pending.open("r+", encoding="utf-8") as journal:
            fcntl.flock(journal, fcntl.LOCK_EX)
            events = [_event_from_json(line) for line in journal if line.strip()]
            self._write(events)  # tokens make a crash between this write and the truncate harmless
            journal.truncate(0)
        return len(events)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300] or type(error).__name__


def _event_from_json(line: str) -> AuditEvent:
    data = json.loads(line)
    data["at"] = dt.datetime.fromisoformat(data["at"])
    data["parameters"] = json.loads(data["parameters"])
    return AuditEvent(**data)


_process_log: AuditLog | None = None


def audit(event: AuditEvent, settings: Settings | None = None) -> bool:
    """Record ``event`` with this process's audit log (one writer connection per process and settings)."""
    global _process_log
    settings = settings or load_settings()
    if _process_log is None or _process_log.settings != settings:
        if _process_log is not None:
            _process_log.close()
        _process_log = AuditLog(settings)
    return _process_log.record(event)


# --- runs in flight ---------------------------------------------------------------------------------------
# A run (a report's, a scheduled job's) leaves a marker while it goes: reports/audit/running/<kind>-<run id>.json
# with its process. A marker whose process is gone is a run that was killed: the next start (the app, the
# scheduler, run-job) records it as failed, so a kill -9 is never silent.

INTERRUPTED = "interrupted: the process stopped"


def run_started(settings: Settings, kind: str, run_id: str, **details: Any) -> Path | None:
    """Leave the marker of a run that starts in this process; None when it cannot be written (a full disk: the
    run goes on, unmarked)."""
    folder = settings.reports_dir / "audit" / "running"
    marker = folder / f"{kind}-{run_id}-{os.getpid()}.json"
    text = json.dumps({"kind": kind, "run_id": run_id, "pid": os.getpid(), "process_started": _process_started(os.getpid()),
                       "started_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0).isoformat(), **details},
                      default=str, ensure_ascii=False)
    try:
        private_folder(folder)
        descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, text.encode("utf-8"))
        finally:
            os.close(descriptor)
    except OSError as error:
        log.warning("audit: the run %s is not marked as going (%s)", run_id, error.strerror or error)
        marker.unlink(missing_ok=True)
        return None
    return marker


def run_ended(marker: Path | None) -> None:
    """The run's outcome is recorded: its marker goes."""
    if marker is not None:
        marker.unlink(missing_ok=True)


def interrupted_runs(settings: Settings, kind: str) -> list[tuple[Path, dict[str, Any]]]:
    """Markers of ``kind`` whose process is gone (killed before it recorded an outcome), with what they say."""
    folder = settings.reports_dir / "audit" / "running"
    found = []
    for marker in sorted(folder.glob(f"{kind}-*.json")) if folder.is_dir() else []:
        try:
            details = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # cut short by the kill itself: nothing to record it with
            log.warning("audit: %s cannot be read; removed", marker)
            marker.unlink(missing_ok=True)
            continue
        pid = int(details.get("pid", 0))
        if pid == os.getpid() or (process_alive(pid) and _process_started(pid) == details.get("process_started")):
            continue
        found.append((marker, details))
    return found


def _process_started(pid: int) -> str:
    """When the process started (clock ticks since boot), so a reused pid is not taken for the run's process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as status:
            return status.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return ""
