"""The embedded store: Parquet parts per table, listed in a manifest, queried in-process by chDB.

chDB locks a data directory to one process, but Voilà runs a kernel per visitor and the
scheduler runs notebooks side by side. So no process owns the data: every table is a folder
of immutable Parquet parts, ``schema.json`` and ``manifest.json`` (see :mod:`.manifest`), and
in every process one :class:`~.engine.Engine` per store folder keeps chDB views over exactly the
parts each manifest lists (``file('<table>/{part-a,part-b}.parquet')``); every connection to that
folder in the process is a handle on it, so views, their cache and snapshots live where chDB's views do.

* A write prepares its part files under hidden temporary names, then takes the table's writer
  lock and commits one new manifest: readers see the whole write or none of it. A writer killed
  at any moment leaves either the old manifest (and files nobody lists, collected later) or the new one.
* One commit may add and remove parts: replacing days and compacting small parts are atomic.
* Inserts carry an optional token; a token the manifest already holds makes the insert a no-op,
  decided under the lock, so two processes racing with one token commit one copy.
* Parts removed from the list are deleted only after a grace period, so a query or a run that
  still reads an older list (a :meth:`snapshot`) finds its files. A snapshot holds against every
  writer, another connection of the same process included.
* A table whose files cannot be read (a folder or part this account may not open, a part that is not
  a regular file) gets no view: queries that touch it fail with :class:`UnreadableTableError` naming it,
  the other tables answer. Only regular files are ever handed to chDB as parts.
* Every call into chDB waits at most the query's time limit (plus a little): a read the kernel holds
  (a pipe swapped in for a part) cannot be stopped by the engine's own limit, so the session is then
  given up and the query ends with :class:`BlockedReadError`.
* A reader (``read_only=True``, the reports' connection) refuses every write; on any connection SQL is
  parsed first (``formatQuerySingleLine``, which runs nothing) and only a single query is ever run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..config import Settings
from ..errors import (
    DatabaseError,
    QueryError,
    QueryTimeoutError,
    ReadOnlyAccountError,
    StoreError,
    UnknownTableError,
)
from .base import Database, WriteReport
from .engine import EMPTY_PART, SCHEMA_FILE, Engine, Reading, Snapshot, attach, is_plain_name, part_problem, quoted_name
from .failures import (
    SYNTAX_ERROR,
    BlockedReadError,
    NotAQueryError,
    UnreadableTableError,
    code_of,
    is_query_text,
    translate,
)
from .manifest import (
    COMPACT_LOCK_FILE,
    LOCK_FILE,
    MANIFEST_FILE,
    RETIRED_FILE,
    Manifest,
    Part,
    committing,
    read_manifest,
    read_retired,
    rewrite_retired,
    table_lock,
    write_manifest,
)
from .sql import sql_string
from .tables import Partitioning, TableSpec
from .types import arrow_schema, conform


def _parquet() -> Any:
    """``pyarrow.parquet`` on first write or count: with its file systems it is about 5 MB in every report
    kernel (both backends import this module), which only reads through chDB."""
    import pyarrow.parquet  # noqa: PLC0415 - see the docstring

    return pyarrow.parquet


_UNSAFE_PATH_CHARACTERS = set("*?{}[],'\\\n\r\0")
# chDB is ClickHouse 26: the first setting makes it accept SQL written for the 18.16 servers we also
# support; the second reads part files with pread, not mmap, so resident memory does not grow with file size;
# the third lets a query list tens of thousands of parts (before compaction) in a file pattern.
SESSION_SETTINGS = {"joined_subquery_requires_alias": 0, "storage_file_read_method": "pread", "max_query_size": 64 * 2**20}
# Streams (exports) read Parquet with a small prefetch budget, so memory stays flat as rows grow.
STREAMING_SETTINGS = {"input_format_parquet_memory_high_watermark": 32 * 2**20, "max_block_size": 16_384,
                      "input_format_parquet_max_block_size": 16_384}
SMALL_PART_ROWS = 1_000_000  # parts below this are merged by compaction
ROW_GROUP_ROWS = 256_000
# chDB stops a slow query itself at max_execution_time; a call still inside chDB this much later is stuck
# in the kernel (a blocking read), and the caller stops waiting for it.
STUCK_GRACE_SECONDS = 2.0

log = logging.getLogger(__name__)


class EmbeddedStore(Database):
    kind = "embedded"

    def __init__(self, url: str, root: Path, settings: Settings, *, read_only: bool = False) -> None:
        super().__init__(url, settings, read_only=read_only)
        if _UNSAFE_PATH_CHARACTERS & set(str(root)):
            raise StoreError(f"The embedded store's folder '{root}' has characters that cannot be used in a path "
                             "pattern (* ? {{ }} [ ] , quote, backslash); choose another folder.")
        self.root = root
        self._lock = threading.RLock()  # this connection's session: one query is prepared at a time
        self._engine: Engine | None = attach(root)  # views, manifests and snapshots of the folder in this process
        self._session: Any = None  # this connection's chdb.session.Session, made on first query
        self._session_pid = 0
        self._database = ""  # the engine's database the session reads (USE), live or the snapshot's
        self._applied_settings: dict[str, Any] = {}
        self._snapshot: Snapshot | None = None  # set inside snapshot()
        self._snapshot_depth = 0
        self._snapshot_lock = threading.Lock()

    def query_settings(self, overrides: Mapping[str, Any] | None = None, *, stream: bool = False) -> dict[str, Any]:
        limits = super().query_settings(overrides, stream=stream)
        return {**STREAMING_SETTINGS, **limits} if stream else limits

    # --- catalog ---------------------------------------------------------------------------
    def tables(self) -> list[str]:
        return self._engine_here().tables()

    def columns(self, table: str) -> dict[str, str]:
        return dict(self.spec(table).columns)

    def spec(self, table: str) -> TableSpec:
        return self._engine_here().spec(table)

    def _engine_here(self) -> Engine:
        """This process's engine of the folder (a closed or forked handle attaches again)."""
        engine = self._engine
        if engine is None or engine.pid != os.getpid():
            engine = self._engine = attach(self.root)
        return engine

    def create_table(self, spec: TableSpec) -> None:
        self._refuse_if_read_only("create table", spec.name)
        folder = self.root / spec.name
        if (folder / SCHEMA_FILE).is_file():
            self._check_same(spec)
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".create-{spec.name}-{uuid.uuid4().hex}"
        staging.mkdir()
        _parquet().write_table(arrow_schema(spec.columns).empty_table(), staging / EMPTY_PART)
        (staging / SCHEMA_FILE).write_text(json.dumps(spec.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        write_manifest(staging, Manifest())
        try:
            os.rename(staging, folder)  # atomic: the table appears complete, empty
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (folder / SCHEMA_FILE).is_file():
                raise
            self._check_same(spec)  # another process won the race

    def _check_same(self, spec: TableSpec) -> None:
        if not self.spec(spec.name).same_structure(spec):
            raise StoreError(f"Table '{spec.name}' already exists with another structure; drop it first to change it.")

    def drop_table(self, name: str) -> None:
        self._refuse_if_read_only("drop table", name)
        folder = self.root / name
        if not (is_plain_name(name) and folder.is_dir()):
            return
        trash = self.root / f".drop-{name}-{uuid.uuid4().hex}"
        os.rename(folder, trash)  # disappears at once for every reader
        shutil.rmtree(trash, ignore_errors=True)

    def part_count(self, table: str) -> int:
        self.spec(table)
        return len(read_manifest(self.root / table).parts)

    # --- writing -------------------------------------------------------------------------------
    def _insert_arrow(self, table: str, chunks: Iterable[pa.Table], token: str | None) -> WriteReport:
        spec = self.spec(table)
        folder = self.root / table
        with self._prepared(folder, spec) as prepare:
            for chunk in chunks:
                prepare.add(chunk)
            parts = prepare.finish()
            with committing(folder) as manifest:
                if token is not None and token in manifest.tokens:
                    return WriteReport(0, duplicate=True)
                self._publish(folder, parts, manifest)
                if token is not None:
                    manifest.remember(token)
        self._compact_if_needed(table, manifest)
        return WriteReport(sum(part.rows for part, _ in parts))

    def replace_partitions(self, table: str, partitions: Mapping[Any, Any]) -> int:
        """Swap whole partitions in one commit: every reader sees all of them old or all of them new."""
        self._refuse_if_read_only("replace partitions of", table)
        spec = self.spec(table)
        partitioning = self._partitioning(spec)
        wanted = {partitioning.id_of(value): data for value, data in partitions.items()}
        folder = self.root / table
        with self._prepared(folder, spec, only=set(wanted)) as prepare:
            for data in wanted.values():
                for chunk in self._batches(table, data):
                    prepare.add(chunk)
            parts = prepare.finish()
            with committing(folder) as manifest:
                manifest.retire({part.name for part in manifest.parts if part.partition in wanted})
                self._publish(folder, parts, manifest)
        return sum(part.rows for part, _ in parts)

    def drop_partitions(self, table: str, partitions: Iterable[Any]) -> None:
        self._refuse_if_read_only("drop partitions of", table)
        partitioning = self._partitioning(self.spec(table))
        doomed = {partitioning.id_of(value) for value in partitions}
        with committing(self.root / table) as manifest:
            manifest.retire({part.name for part in manifest.parts if part.partition in doomed})

    def partitions(self, table: str) -> dict[str, int]:
        self._partitioning(self.spec(table))
        counts: dict[str, int] = {}
        for part in read_manifest(self.root / table).parts:
            counts[part.partition] = counts.get(part.partition, 0) + self._rows(table, part)
        return {name: rows for name, rows in sorted(counts.items()) if rows}

    def compact(self, table: str | None = None, *, wait: bool = True) -> int:
        """Merge the small parts of each partition into one; returns how many parts were merged away.

        One process compacts a table at a time; with ``wait=False`` (after an insert) a table that
        another process is compacting is left to it.
        """
        self._refuse_if_read_only("compact")
        if table is None:
            return sum(self.compact(name, wait=wait) for name in self.tables())
        spec, folder = self.spec(table), self.root / table
        with table_lock(folder, COMPACT_LOCK_FILE, wait=wait) as mine:
            if not mine:
                return 0
            groups: dict[str, list[Part]] = {}
            for part in read_manifest(folder).parts:
                if 0 <= part.rows < SMALL_PART_ROWS:
                    groups.setdefault(part.partition, []).append(part)
            merged = sum(self._merge(folder, spec, small) for small in groups.values() if len(small) > 1)
        self.collect_garbage(table)
        return merged

    def _merge(self, folder: Path, spec: TableSpec, small: list[Part]) -> int:
        with self._prepared(folder, spec) as prepare:
            for part in small:
                prepare.add(_parquet().read_table(folder / part.name))
            parts = prepare.finish()
            with committing(folder) as manifest:
                if not {part.name for part in small} <= set(manifest.names):
                    return 0  # another writer replaced or merged some of them first: keep its result
                manifest.retire({part.name for part in small})
                self._publish(folder, parts, manifest)
        return len(small) - len(parts)

    def _compact_if_needed(self, table: str, manifest: Manifest) -> None:
        threshold = self.settings.compact_after_parts
        small = sum(1 for part in manifest.parts if 0 <= part.rows < SMALL_PART_ROWS)
        if threshold and small > threshold:
            self.compact(table, wait=False)

    def collect_garbage(self, table: str | None = None) -> int:
        """Delete what no reader can need any more: retired parts and stray files past the grace period."""
        self._refuse_if_read_only("collect garbage")
        if table is None:
            removed = sum(self.collect_garbage(name) for name in self.tables())
            return removed + _remove_old(self.root, (".create-", ".drop-"), self.settings.store_grace_seconds)
        folder = self.root / table
        cutoff = time.time() - self.settings.store_grace_seconds
        with table_lock(folder):
            listed = set(read_manifest(folder).names)
            retired = read_retired(folder)
            expired = {name for name, at in retired.items() if at < cutoff and name not in listed}
            for name in expired:
                (folder / name).unlink(missing_ok=True)
            if expired or set(retired) & listed:
                rewrite_retired(folder, {name: at for name, at in retired.items() if name not in expired | listed})
            known = listed | set(retired) | {SCHEMA_FILE, MANIFEST_FILE, EMPTY_PART, RETIRED_FILE, LOCK_FILE,
                                             COMPACT_LOCK_FILE}
            strays = [entry for entry in os.scandir(folder) if entry.name not in known and entry.stat().st_mtime < cutoff]
            for entry in strays:
                Path(entry.path).unlink(missing_ok=True)
        return len(expired) + len(strays)

    @contextlib.contextmanager
    def _prepared(self, folder: Path, spec: TableSpec, only: set[str] | None = None) -> Iterator[_PartWriter]:
        writer = _PartWriter(folder, spec, only)
        try:
            yield writer
        finally:
            writer.discard()

    def _publish(self, folder: Path, parts: list[tuple[Part, Path]], manifest: Manifest) -> None:
        """Move prepared files to their part names and list them (the caller holds the lock)."""
        for part, temporary in parts:
            os.replace(temporary, folder / part.name)
        manifest.parts.extend(part for part, _ in parts)

    def _partitioning(self, spec: TableSpec) -> Partitioning:
        if spec.partitioning is None:
            raise DatabaseError(f"Table '{spec.name}' has no partitions; declare partition_by to replace or drop them.")
        return spec.partitioning

    def _rows(self, table: str, part: Part) -> int:
        return part.rows if part.rows >= 0 else _parquet().ParquetFile(self.root / table / part.name).metadata.num_rows

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Inside, every query of this connection reads the list of parts each table had when first read here.

        Writes of other connections and processes stay unseen until it ends. Nested (or entered by two threads
        on one connection) it is one snapshot, ended when the last leaves.
        """
        engine = self._engine_here()
        with self._snapshot_lock:
            if self._snapshot is None:
                self._snapshot = engine.begin()
            self._snapshot_depth += 1
            snapshot = self._snapshot
        try:
            yield
        finally:
            with self._snapshot_lock:
                self._snapshot_depth -= 1
                if self._snapshot_depth == 0:
                    self._snapshot = None
                    engine.end(snapshot)

    # --- reading -------------------------------------------------------------------------------
    def _stream(self, bound_sql: str, settings: dict[str, Any]) -> Iterator[pa.Table]:
        with self._lock:
            reading = self._engine_here().reading(self._snapshot)
            try:
                session = self._open_session()
                self._apply(session, settings)
                self._use(session, reading.database)
                limit = settings.get("max_execution_time") or 0
                call = _Bounded(limit + STUCK_GRACE_SECONDS if limit else None)
                try:
                    self._check_statement(session, call, bound_sql, settings, reading)
                    types = self._result_types(session, call, bound_sql, settings, reading)
                    schema = arrow_schema(types)
                    produced, stream, failed = False, None, False
                    try:
                        stream = call(session.send_query, bound_sql, "ArrowTable")
                        reading.started()  # chDB resolved the views as the query was sent
                        while (chunk := call(stream.fetch)) is not None:
                            if chunk.num_rows:
                                produced = True
                                yield conform(_rename(chunk, list(types)), types)
                    except _engine_errors() as error:
                        failed = True
                        self._forget_session()  # chDB leaves a session whose stream failed midway unusable
                        raise self._translated(error, bound_sql, settings, reading) from None
                    finally:
                        if stream is not None and not (failed or call.stuck):
                            call(stream.cancel)  # a no-op once the stream is read to its end; stops one left early
                except _StuckCall as stuck:
                    raise self._stopped(stuck, bound_sql, limit, reading) from None
                except BaseException:
                    if call.stuck:  # interrupted while chDB still works: that call keeps the session
                        self._forget_session(closing=False)
                    raise
                if not produced:
                    yield schema.empty_table()
            finally:
                reading.started()  # safety net: once the query was sent, or it failed before

    def _check_statement(self, session: Any, call: _Bounded, bound_sql: str, settings: dict[str, Any],
                         reading: Reading) -> None:
        """Parse the SQL without running it: one statement, and a query (SELECT) or nothing runs.

        The SQL reaches chDB only as a string literal here, so a second statement smuggled into the text
        cannot run; syntax errors are reported at their position in the caller's own SQL.
        """
        try:
            formatted = str(call(session.query, "SELECT formatQuerySingleLine(" + sql_string(bound_sql) + ")",
                                 "TabSeparatedRaw"))
        except _engine_errors() as error:
            raise self._translated(error, bound_sql, settings, reading) from None
        if not is_query_text(formatted):
            kind = (formatted.split(None, 1) or ["empty"])[0].upper()
            if self.read_only:
                raise ReadOnlyAccountError(sql=bound_sql)
            raise NotAQueryError(kind, sql=bound_sql)

    def _result_types(self, session: Any, call: _Bounded, bound_sql: str, settings: dict[str, Any],
                      reading: Reading) -> dict[str, str]:
        """Column types of a query (chDB's Arrow output alone carries DateTime as uint32)."""
        try:
            described = call(session.query, "DESCRIBE TABLE (" + bound_sql + "\n)", "ArrowTable")
        except _engine_errors() as error:
            if code_of(str(error)) == SYNTAX_ERROR:  # it parsed alone: a clause a subquery may not have
                raise QueryError("The query must be one SELECT without INTO OUTFILE, FORMAT or a closing semicolon.",
                                 sql=bound_sql, code=SYNTAX_ERROR, server_message=str(error)) from None
            raise self._translated(error, bound_sql, settings, reading) from None
        return dict(zip(described.column("name").to_pylist(), described.column("type").to_pylist(), strict=True))

    def _translated(self, error: Exception, sql: str, settings: dict[str, Any], reading: Reading) -> Exception:
        text = str(error)
        translated = translate(code_of(text), text, sql=sql, limit_seconds=settings.get("max_execution_time"))
        if isinstance(translated, UnknownTableError) and translated.table in reading.unreadable:
            return reading.unreadable[translated.table].for_query(sql)
        for table, files in reading.files.items():  # a part that became unreadable after its view was made
            culprit = next((path for path in files if str(path) in text), None)
            if culprit is not None and not isinstance(translated, QueryTimeoutError):
                problem = part_problem(culprit) or "could not be read"
                return UnreadableTableError(table, f"{table}/{culprit.name}", problem, path=str(culprit), sql=sql)
        return translated

    def _stopped(self, stuck: _StuckCall, sql: str, limit: float, reading: Reading) -> BlockedReadError:
        """A call stayed inside chDB past the time limit: find the file that blocks, free the caller, drop the session.

        The engine checks every part again before the next query, so the file is then refused up front.
        """
        blocking = [(table, path, problem) for table, files in reading.files.items() for path in files
                    if (problem := part_problem(path))]
        blocking.sort(key=lambda found: "pipe" not in found[2])  # a pipe is what holds a read; name it first
        for _, path, _ in blocking:
            _release_pipe_reader(path)  # a reader waiting on a pipe gets end-of-file and the call ends
        stuck.worker.join(STUCK_GRACE_SECONDS)
        if stuck.worker.is_alive():
            log.warning("A chDB call is still blocked after the query's time limit; its session is given up: %s", sql)
        self._forget_session(closing=not stuck.worker.is_alive())
        self._engine_here().recheck()
        if not blocking:
            return BlockedReadError(limit, sql=sql)
        table, path, problem = blocking[0]
        return BlockedReadError(limit, table=table, file=f"{table}/{path.name}", reason=problem, sql=sql)

    def _open_session(self) -> Any:
        if self._session is None or self._session_pid != os.getpid():  # a forked child needs its own
            self._session = self._engine_here().open_session()
            self._session_pid = os.getpid()
            self._database = ""
            self._applied_settings = {}
        return self._session

    def _forget_session(self, *, closing: bool = True) -> None:
        """Start the next query in a new session; a session a blocked call still uses is left to that call."""
        if self._session is not None and closing and self._session_pid == os.getpid():
            with contextlib.suppress(*_engine_errors()):
                self._session.close()
        self._session = None

    def _use(self, session: Any, database: str) -> None:
        """Point the session at the engine's database of this query (the live views or the snapshot's)."""
        if database != self._database:
            session.query("USE " + quoted_name(database))
            self._database = database

    def _apply(self, session: Any, settings: dict[str, Any]) -> None:
        settings = {**SESSION_SETTINGS, **settings}
        if settings == self._applied_settings:
            return
        defaults = {name: "DEFAULT" for name in self._applied_settings if name not in settings}
        assignments = [f"{name} = {_setting_literal(value)}" for name, value in settings.items()]
        assignments += [f"{name} = DEFAULT" for name in defaults]
        session.query("SET " + ", ".join(assignments))
        self._applied_settings = dict(settings)

    def release_memory(self) -> None:
        """``SYSTEM JEMALLOC PURGE``: chDB's allocator keeps the pages a report's queries freed (about 60 MB
        after the plastic cards report) until the process ends; a visitor's kernel waits with them for the
        next Run. Purging takes milliseconds and changes no result."""
        with self._lock:
            if self._session is None or self._session_pid != os.getpid():
                return  # nothing queried here
            with contextlib.suppress(*_engine_errors()):
                self._session.query("SYSTEM JEMALLOC PURGE")

    def close(self) -> None:
        with self._lock:
            if self._session is not None and self._session_pid == os.getpid():
                self._session.close()
            self._session = None
            if self._engine is not None:
                self._engine.detach()
                self._engine = None


class _PartFile:
    """One partition's temporary Parquet file; small pieces are gathered into row groups of ROW_GROUP_ROWS."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.path = folder / f".tmp-{uuid.uuid4().hex}.parquet"
        self.writer = _parquet().ParquetWriter(self.path, schema, compression="zstd")
        self.rows = 0
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def add(self, rows: pa.Table) -> None:
        self.pending.append(rows)
        self.pending_rows += rows.num_rows
        self.rows += rows.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.concat_tables(self.pending).combine_chunks(), row_group_size=ROW_GROUP_ROWS)
            self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


class _PartWriter:
    """Writes incoming rows into one temporary Parquet file per partition; nothing is visible until published."""

    def __init__(self, folder: Path, spec: TableSpec, only: set[str] | None) -> None:
        self.folder, self.spec, self.only = folder, spec, only
        self.schema = arrow_schema(spec.columns)
        self.partitioning = spec.partitioning
        self.files: dict[str, _PartFile] = {}
        self._finished: list[tuple[Part, Path]] = []

    def add(self, chunk: pa.Table) -> None:
        if not chunk.num_rows:
            return
        chunk = conform(chunk, self.spec.columns).cast(self.schema)
        if self.partitioning is None:
            self._file("").add(chunk)
            return
        ids = self.partitioning.ids(chunk.column(self.partitioning.column))
        for partition in np.unique(ids):
            if self.only is not None and partition not in self.only:
                raise DatabaseError(f"Rows for partition {partition} were given among the rows for "
                                    f"{', '.join(sorted(self.only))} of table '{self.spec.name}'.")
            same = ids == partition
            self._file(str(partition)).add(chunk if same.all() else chunk.filter(pa.array(same)))

    def _file(self, partition: str) -> _PartFile:
        if partition not in self.files:
            self.files[partition] = _PartFile(self.folder, self.schema)
        return self.files[partition]

    def finish(self) -> list[tuple[Part, Path]]:
        """Close and flush every file; the parts to publish, with their temporary paths."""
        parts = []
        for partition, file in self.files.items():
            file.close()
            with open(file.path, "rb") as written:
                os.fsync(written.fileno())
            parts.append((Part(_part_name(), file.rows, file.path.stat().st_size, partition), file.path))
        self.files = {}
        self._finished = parts
        return parts

    def discard(self) -> None:
        """Remove whatever was not published (after a failure, a duplicate token or a lost race)."""
        for file in self.files.values():
            file.writer.close()
            file.path.unlink(missing_ok=True)
        for _, temporary in self._finished:
            temporary.unlink(missing_ok=True)


def _remove_old(folder: Path, prefixes: tuple[str, ...], grace: float) -> int:
    cutoff, removed = time.time() - grace, 0
    for entry in os.scandir(folder) if folder.is_dir() else []:
        if entry.name.startswith(prefixes) and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
    return removed


class _StuckCall(Exception):  # noqa: N818 - a signal between two methods, never shown
    """A call into chDB did not return in time; ``worker`` is the thread still inside it."""

    def __init__(self, worker: threading.Thread) -> None:
        super().__init__("a call into chDB did not return in time")
        self.worker = worker


class _Bounded:
    """Runs calls into chDB on a helper thread and waits at most ``seconds`` for each.

    chDB stops a slow query itself; this is for a call the kernel holds (a read from a pipe), which no
    engine setting can interrupt. After one call is stuck, ``stuck`` is set and no further call is made.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.stuck = False

    def __call__(self, function: Any, *args: Any) -> Any:
        if self.seconds is None:
            return function(*args)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = function(*args)
            except BaseException as error:  # noqa: BLE001 - handed to the waiting caller as it is
                outcome["error"] = error

        worker = threading.Thread(target=run, name="chdb-call", daemon=True)
        worker.start()
        try:
            worker.join(self.seconds)
        except BaseException:  # KeyboardInterrupt while waiting: the call goes on without us
            self.stuck = True
            raise
        if worker.is_alive():
            self.stuck = True
            raise _StuckCall(worker)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")


def _release_pipe_reader(path: Path) -> None:
    """Open a pipe for writing and close it: a reader blocked opening it gets end-of-file (none waiting: no-op)."""
    with contextlib.suppress(OSError):
        if stat.S_ISFIFO(os.lstat(path).st_mode):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def _engine_errors() -> tuple[type[Exception], ...]:
    """What chDB raises for a failed query (imported late, like chDB itself)."""
    from chdb import ChdbError  # noqa: PLC0415

    return (RuntimeError, ChdbError)


def _rename(chunk: pa.Table, names: list[str]) -> pa.Table:
    return chunk.rename_columns(names) if chunk.column_names != names else chunk


def _part_name() -> str:
    return f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"


def _setting_literal(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and value.replace("_", "").isalnum():
        return sql_string(value)
    raise DatabaseError(f"Query setting value {value!r} is not supported.")
