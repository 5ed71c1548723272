"""Rows the database could not take, parked in a file until it can: the one outage queue of the audit trail
and of ``job_runs``.

A row goes to the database first, always, whatever waits in the file; only a row that fails is parked, with
the reason, as one JSON line. A failure is one of two kinds:

* **the database cannot take any row now** (:func:`unreachable`: the server is down, the disk under the
  embedded store is full, the writer's login is refused): the row waits and is retried, in the order parked,
  right after the next row that gets through;
* **the database answers but refuses this row** (a value its column cannot take): the row is *rejected*. It
  stays in the file with the reason for a person to read, is retried only by an explicit :meth:`flush`
  (``analytics cleanup``), and never holds back another row.

Its writer inserts each row with the row's own key as the insert token, so a retry after a crash between the
database taking a row and the file forgetting it makes no second copy.

Kills and full disks leave the file wholly old or wholly new: parking appends one whole line and syncs it (a
torn tail, left by a kill or a short write, is cut off before the next line and never read as a row); a retry
rewrites the file through a synced temporary moved over it. A lock file beside it serialises processes and
threads; files and folder are the owner's only.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Generic, TypeVar

from .errors import AuthenticationError, ConfigError, QueryTimeoutError, ServerUnreachableError, StoreError
from .exports.files import atomic_file, open_private, private_folder

log = logging.getLogger(__name__)

T = TypeVar("T")
#: failures that say nothing about the row: every row would fail alike until the database is back
OUTAGES: tuple[type[BaseException], ...] = (ServerUnreachableError, AuthenticationError, QueryTimeoutError, StoreError,
                                            ConfigError, OSError)


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot take any row now (an outage), rather than refusing this one."""
    return isinstance(error, OUTAGES)


def one_line(error: BaseException) -> str:
    """The error in one line of at most 300 characters, for the file, the log and stderr."""
    return " ".join(str(error).split())[:300] or type(error).__name__


@dataclass(frozen=True)
class Parked:
    """One parked row: its key (the insert token's tail), the row as JSON, why it waits, and since when."""

    key: str
    entry: dict[str, Any]
    reason: str
    rejected: bool = False
    parked_at: str = ""
    attempts: int = 1

    def line(self) -> str:
        # ASCII only: a name with an undecodable byte (a surrogate) is still one writable line
        return json.dumps({"key": self.key, "entry": self.entry, "reason": self.reason, "rejected": self.rejected,
                           "parked_at": self.parked_at, "attempts": self.attempts}, default=str) + "\n"


@dataclass(frozen=True)
class Retried:
    """What a retry did: rows written, rows still waiting for the database, rows it refuses."""

    written: int = 0
    waiting: int = 0
    rejected: int = 0


@dataclass
class _Contents:
    parked: list[Parked]
    unreadable: list[str]  # whole lines that are not ours to read (edited by hand): kept as they are


class OutageQueue(Generic[T]):
    """Write rows of one kind through ``write``; park only those that fail, in ``path``.

    ``encode``/``decode`` turn a row into JSON and back, ``key`` names it (its writer's insert token),
    ``describe`` says which row it is in the one stderr line written when neither the database nor the
    disk takes it; ``label`` starts the log lines ("audit", "job_runs").
    """

    def __init__(self, path: Path, *, write: Callable[[T], None], key: Callable[[T], str],
                 encode: Callable[[T], dict[str, Any]], decode: Callable[[dict[str, Any]], T],
                 describe: Callable[[T], str], label: str) -> None:
        self.path, self.lock_path = path, path.with_name(path.name + ".lock")
        self._write, self._key, self._encode, self._decode = write, key, encode, decode
        self._describe, self.label = describe, label

    def record(self, row: T) -> bool:
        """Write ``row``; True when the database took it, False when it was parked (or, on a full disk, named on
        stderr). Never raises for the database or the disk: an outage must not stop the person's work.

        A row that gets through is followed by the rows that wait for the database, in the order parked."""
        try:
            self._write(row)
        except Exception as failure:  # noqa: BLE001 - parked with its reason, never lost, never raised
            self._park(row, failure)
            return False
        if self.path.exists():
            self._retry_quietly()
        return True

    def flush(self, *, rejected_too: bool = True) -> Retried:
        """Retry the parked rows in order (rejected ones too unless told), stopping at the first outage."""
        with self._locked():
            contents = self._read()
            kept, report = self._retry(contents.parked, rejected_too)
            if kept != contents.parked:
                self._rewrite(_Contents(kept, contents.unreadable))
        return report

    def parked(self) -> list[Parked]:
        """What waits, oldest first (a torn last line, cut short by a kill, is not a row)."""
        with self._locked():
            return self._read().parked

    # --- parking -----------------------------------------------------------------------------------------------
    def _park(self, row: T, failure: Exception) -> None:
        reason, outage = one_line(failure), unreachable(failure)
        stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        try:
            self._append(Parked(self._key(row), self._encode(row), reason, not outage, stamp).line())
        except Exception as trouble:  # noqa: BLE001 - a full disk (or no rights) as well: the last resort is stderr
            why = trouble.strerror if isinstance(trouble, OSError) and trouble.strerror else one_line(trouble)
            sys.stderr.write(f"{self._describe(row)} could not be recorded: the database did not take it ({reason}) "
                             f"and {self.path} could not be written ({why})\n")
            return
        if outage:
            log.warning("%s: database unavailable (%s); %s kept in %s", self.label, reason, self._key(row), self.path)
        else:
            log.warning("%s: the database refused %s (%s); it is kept in %s with the reason and holds back no other "
                        "row", self.label, self._key(row), reason, self.path)

    def _append(self, line: str) -> None:
        """Append one whole line and sync it; on a short write or a failed sync the file is cut back as it was."""
        data = line.encode("ascii")
        with self._locked():
            private_folder(self.path.parent)  # as open_private does, read-write: the tail is read before appending
            descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = _cut_torn_tail(descriptor, self.path)
                try:
                    written = 0
                    while written < len(data):
                        written += os.write(descriptor, data[written:])
                    os.fsync(descriptor)
                except OSError:
                    os.ftruncate(descriptor, size)
                    raise
            finally:
                os.close(descriptor)

    # --- retrying ----------------------------------------------------------------------------------------------
    def _retry_quietly(self) -> None:
        try:
            report = self.flush(rejected_too=False)
        except OSError as trouble:  # the file cannot be read or rewritten: its rows wait for the next try
            log.warning("%s: rows in %s still wait (%s)", self.label, self.path, trouble.strerror or trouble)
            return
        if report.waiting:
            log.warning("%s: %d row(s) in %s still wait for the database", self.label, report.waiting, self.path)

    def _retry(self, parked: list[Parked], rejected_too: bool) -> tuple[list[Parked], Retried]:
        kept: list[Parked] = []
        written = 0
        for index, item in enumerate(parked):
            if item.rejected and not rejected_too:
                kept.append(item)
                continue
            try:
                self._write(self._decode(item.entry))
            except Exception as failure:  # noqa: BLE001 - the row stays parked, with the newer reason
                kept.append(replace(item, reason=one_line(failure), rejected=not unreachable(failure),
                                    attempts=item.attempts + 1))
                if unreachable(failure):  # the database went away again: the rest wait, untried
                    kept += parked[index + 1:]
                    break
                continue
            written += 1
        rejected = sum(item.rejected for item in kept)
        return kept, Retried(written, len(kept) - rejected, rejected)

    # --- the file ----------------------------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open_private(self.lock_path) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self) -> _Contents:
        try:
            text = self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return _Contents([], [])
        lines = text.split("\n")
        if lines[-1]:
            log.warning("%s: the last line of %s was cut short (a kill or a full disk while parking); it is not a row",
                        self.label, self.path)
        contents = _Contents([], [])
        for line in filter(None, lines[:-1]):
            try:
                contents.parked.append(self._parsed(json.loads(line)))
            except (ValueError, TypeError, KeyError, AttributeError):
                log.warning("%s: a line of %s cannot be read; it is kept as it is", self.label, self.path)
                contents.unreadable.append(line + "\n")
        return contents

    def _parsed(self, data: dict[str, Any]) -> Parked:
        if "entry" not in data:  # a line of an older version: the row itself, parked by an outage
            return Parked(self._key(self._decode(data)), data, "")
        return Parked(str(data["key"]), dict(data["entry"]), str(data.get("reason", "")), bool(data.get("rejected")),
                      str(data.get("parked_at", "")), int(data.get("attempts", 1)))

    def _rewrite(self, contents: _Contents) -> None:
        """The file becomes ``contents`` at once (a synced temporary moved over it), or goes when nothing waits."""
        lines = [item.line() for item in contents.parked] + contents.unreadable
        if not lines:
            self.path.unlink(missing_ok=True)
            return
        with atomic_file(self.path) as target:
            target.write("".join(lines).encode("utf-8"))


def _cut_torn_tail(descriptor: int, path: Path) -> int:
    """Cut a last line left without its newline (a kill mid-append) so the next line starts whole; the new size."""
    size = os.fstat(descriptor).st_size
    if size == 0 or os.pread(descriptor, 1, size - 1) == b"\n":
        return size
    whole = os.pread(descriptor, size, 0).rfind(b"\n") + 1
    os.ftruncate(descriptor, whole)
    log.warning("parked: a torn last line of %s (%d bytes) was cut off", path, size - whole)
    return whole


def is_queue_file(path: Path) -> bool:
    """A parked-rows file (``*pending.jsonl``) or its lock: retention leaves them alone, their rows still wait."""
    return path.name.endswith(("pending.jsonl", "pending.jsonl.lock"))
