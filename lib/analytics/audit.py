"""The audit trail: who ran, exported, downloaded or wrote what, when, from where, and the file's SHA-256.

One row per event in ``audit_log``, written by the writer account with the event's id as the insert
token, so a retried write never makes a second row. An event the database does not take waits in
``reports/audit/pending.jsonl`` (the outage queue of :mod:`analytics.parked`, shared with ``job_runs``):
while the database is down it is written after the next event that gets through; one the database refuses
stays there with the reason and holds back no other. An audit row is never lost, and never removed by
retention.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import secrets
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
from .parked import OutageQueue, Parked, Retried

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
    """Writes audit events through the writer account; keeps one connection per process, opened when first needed.

    An event the database does not take is parked in ``reports/audit/pending.jsonl`` (:mod:`analytics.parked`):
    only that event waits; the next good event goes in regardless, and then the parked ones, in order.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.pending = self.settings.reports_dir / "audit" / "pending.jsonl"
        self._db: Database | None = None
        self._lock = threading.Lock()
        self._queue = OutageQueue(self.pending, write=self._write, key=lambda event: event.event_id, encode=_event_json,
                                  decode=_event_from_json, describe=_described, label="audit")

    def record(self, event: AuditEvent) -> bool:
        """Write the event; True when it reached the database, False when it waits in the pending file.

        Never raises: the database first (then what waits in the pending file, so a full disk that cannot
        take the pending file loses nothing while the database is up); the pending file when the database
        is not; and when neither takes it, one plain line on stderr names the event.
        """
        with self._lock:
            return self._queue.record(event)

    def flush(self) -> Retried:
        """Write the events parked in the pending file, those the database refused before included (``analytics
        cleanup``); says how many went in, how many still wait for the database and how many it refuses."""
        with self._lock:
            return self._queue.flush()

    def parked(self) -> list[Parked]:
        """The events waiting in the pending file, oldest first, each with why it waits."""
        return self._queue.parked()

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

    def _write(self, event: AuditEvent) -> None:
        """One event, its id the insert token: a retry of it is a no-op."""
        rows = _table([event])  # a value the table cannot take fails here, before the connection is touched
        try:
            self._database().insert(AUDIT_TABLE.name, rows, token=f"audit-{event.event_id}")
        except BaseException:
            self._reset()  # the next event opens a fresh connection
            raise

    def _reset(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {**event.row(), "at": event.at.isoformat()}


def _event_from_json(data: Mapping[str, Any]) -> AuditEvent:
    values = dict(data)
    values["at"] = dt.datetime.fromisoformat(values["at"])
    values["parameters"] = json.loads(values["parameters"])
    return AuditEvent(**values)


def _described(event: AuditEvent) -> str:
    return (f"audit: {event.action} of {event.report or '-'} by {event.user} at {event.at:%Y-%m-%d %H:%M:%S} UTC "
            f"(run {event.run_id or '-'}, event {event.event_id})")


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
