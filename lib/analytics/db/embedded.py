"""The embedded store: Parquet files per table, queried in-process by chDB.

chDB locks a data directory to one process, but Voilà runs a kernel per visitor and the
scheduler runs notebooks side by side. So no process owns the data: every table is a
folder of immutable Parquet parts plus ``schema.json``, and every process opens its own
in-memory chDB session in which each table is a view over ``file('<table>/part-*.parquet')``.

* Readers see a part completely or not at all: a part is written under a hidden temporary
  name and renamed into place (``os.replace`` is atomic on one filesystem).
* One ``insert`` call writes one part, so it becomes visible all at once; a writer killed
  mid-insert leaves only a hidden temporary file that no query reads.
* Writers never modify a part, so any number of processes read and write at once.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..config import Settings
from ..errors import DatabaseError, StoreError, UnknownTableError
from .base import Database
from .failures import SYNTAX_ERROR, code_of, translate
from .sql import identifier, sql_string
from .types import arrow_schema, conform

SCHEMA_FILE = "schema.json"
PART_GLOB = "part-*.parquet"
_UNSAFE_PATH_CHARACTERS = set("*?{}[]'\\\n\r\0")
# chDB is ClickHouse 26: the first setting makes it accept SQL written for the 18.16 servers we also
# support; the second reads part files with pread, not mmap, so resident memory does not grow with file size.
SESSION_SETTINGS = {"joined_subquery_requires_alias": 0, "storage_file_read_method": "pread"}
# Streams (exports) read Parquet with a small prefetch budget, so memory stays flat as rows grow.
STREAMING_SETTINGS = {"input_format_parquet_memory_high_watermark": 32 * 2**20, "max_block_size": 16_384,
                      "input_format_parquet_max_block_size": 16_384}


class EmbeddedStore(Database):
    kind = "embedded"

    def __init__(self, url: str, root: Path, settings: Settings) -> None:
        super().__init__(url, settings)
        if _UNSAFE_PATH_CHARACTERS & set(str(root)):
            raise StoreError(f"The embedded store's folder '{root}' has characters that cannot be used in a path "
                             "pattern (* ? {{ }} [ ] quote, backslash); choose another folder.")
        self.root = root
        self._lock = threading.RLock()
        self._session: Any = None  # chdb.session.Session, imported on first use
        self._session_pid = 0
        self._views: dict[str, tuple[int, int]] = {}
        self._applied_settings: dict[str, Any] = {}

    def query_settings(self, overrides: Mapping[str, Any] | None = None, *, stream: bool = False) -> dict[str, Any]:
        limits = super().query_settings(overrides, stream=stream)
        return {**STREAMING_SETTINGS, **limits} if stream else limits

    # --- catalog ---------------------------------------------------------------------------
    def tables(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(self.root)
                      if entry.is_dir() and not entry.name.startswith(".") and (Path(entry.path) / SCHEMA_FILE).is_file())

    def columns(self, table: str) -> dict[str, str]:
        return dict(self._schema(table)["columns"])

    def _schema(self, table: str) -> dict[str, Any]:
        path = self.root / table / SCHEMA_FILE
        if not (_is_plain_name(table) and path.is_file()):
            raise UnknownTableError(table, self.tables())
        return json.loads(path.read_text(encoding="utf-8"))

    def create_table(self, name: str, columns: Mapping[str, str], *, order_by: Sequence[str] = (),
                     partition_by: str | None = None) -> None:
        identifier(name, [name], kind="table")
        for column in columns:
            identifier(column, columns, table=name)
        folder = self.root / name
        wanted = {"columns": list(map(list, columns.items())), "order_by": list(order_by)}
        if (folder / SCHEMA_FILE).is_file():
            existing = self._schema(name)
            if existing["columns"] != wanted["columns"]:
                raise StoreError(f"Table '{name}' already exists with other columns; drop it first to change them.")
            return
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".create-{name}-{uuid.uuid4().hex}"
        staging.mkdir()
        pq.write_table(arrow_schema(columns).empty_table(), staging / _part_name())
        (staging / SCHEMA_FILE).write_text(json.dumps(wanted, ensure_ascii=False, indent=1), encoding="utf-8")
        try:
            os.rename(staging, folder)  # atomic: the table appears complete, with its empty part
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not (folder / SCHEMA_FILE).is_file():
                raise
            self.create_table(name, columns, order_by=order_by)  # another process won the race

    def drop_table(self, name: str) -> None:
        folder = self.root / name
        if not (_is_plain_name(name) and folder.is_dir()):
            return
        trash = self.root / f".drop-{name}-{uuid.uuid4().hex}"
        os.rename(folder, trash)  # disappears at once for every reader
        shutil.rmtree(trash, ignore_errors=True)

    # --- writing -------------------------------------------------------------------------------
    def _insert_arrow(self, table: str, chunks: Iterable[pa.Table]) -> int:
        columns = self.columns(table)
        schema = arrow_schema(columns)
        folder = self.root / table
        temporary = folder / f".tmp-{uuid.uuid4().hex}.parquet"
        rows = 0
        try:
            with pq.ParquetWriter(temporary, schema, compression="zstd") as writer:
                for chunk in chunks:
                    if chunk.num_rows:
                        writer.write_table(conform(chunk, columns).cast(schema), row_group_size=256_000)
                        rows += chunk.num_rows
            if rows:
                with open(temporary, "rb") as written:
                    os.fsync(written.fileno())
                os.replace(temporary, folder / _part_name())
        finally:
            temporary.unlink(missing_ok=True)
        return rows

    # --- reading -------------------------------------------------------------------------------
    def _stream(self, bound_sql: str, settings: dict[str, Any]) -> Iterator[pa.Table]:
        with self._lock:
            session = self._open_session()
            self._apply(session, settings)
            types = self._result_types(session, bound_sql, settings)
            schema = arrow_schema(types)
            produced = False
            try:
                with session.send_query(bound_sql, "ArrowTable") as stream:
                    for chunk in stream:
                        if chunk.num_rows:
                            produced = True
                            yield conform(_rename(chunk, list(types)), types)
            except _engine_errors() as error:
                raise self._translated(error, bound_sql, settings) from None
            if not produced:
                yield schema.empty_table()

    def _result_types(self, session: Any, bound_sql: str, settings: dict[str, Any]) -> dict[str, str]:
        """Column types of a query (chDB's Arrow output alone carries DateTime as uint32)."""
        try:
            described = session.query("DESCRIBE TABLE (" + bound_sql + "\n)", "ArrowTable")
        except _engine_errors() as error:
            if code_of(str(error)) == SYNTAX_ERROR:  # report the position in the user's own SQL
                try:
                    session.query(bound_sql, "Null")
                except _engine_errors() as own_error:
                    error = own_error
            raise self._translated(error, bound_sql, settings) from None
        return dict(zip(described.column("name").to_pylist(), described.column("type").to_pylist(), strict=True))

    def _translated(self, error: Exception, sql: str, settings: dict[str, Any]) -> Exception:
        text = str(error)
        return translate(code_of(text), text, sql=sql, limit_seconds=settings.get("max_execution_time"))

    def _open_session(self) -> Any:
        if self._session is None or self._session_pid != os.getpid():  # a forked child needs its own
            from chdb import session as chdb_session  # noqa: PLC0415 - ~200 MB; only the embedded store needs it

            self._session = chdb_session.Session(":memory:")
            self._session_pid = os.getpid()
            self._views = {}
            self._applied_settings = {}
        self._sync_views(self._session)
        return self._session

    def _sync_views(self, session: Any) -> None:
        """Make one view per table folder, re-made when a table was dropped and created again."""
        current: dict[str, tuple[int, int]] = {}
        for table in self.tables():
            stat = (self.root / table / SCHEMA_FILE).stat()
            current[table] = (stat.st_ino, stat.st_mtime_ns)
        for table in set(self._views) - set(current):
            session.query("DROP VIEW IF EXISTS `" + table + "`")
            del self._views[table]
        for table, signature in current.items():
            if self._views.get(table) == signature:
                continue
            structure = ", ".join(f"`{name}` {kind}" for name, kind in self.columns(table).items())
            pattern = sql_string(str(self.root / table / PART_GLOB))
            session.query("CREATE OR REPLACE VIEW `" + table + "` AS SELECT * FROM file("
                          + pattern + ", Parquet, " + sql_string(structure) + ")")
            self._views[table] = signature

    def _apply(self, session: Any, settings: dict[str, Any]) -> None:
        settings = {**SESSION_SETTINGS, **settings}
        if settings == self._applied_settings:
            return
        defaults = {name: "DEFAULT" for name in self._applied_settings if name not in settings}
        assignments = [f"{name} = {_setting_literal(value)}" for name, value in settings.items()]
        assignments += [f"{name} = DEFAULT" for name in defaults]
        session.query("SET " + ", ".join(assignments))
        self._applied_settings = dict(settings)

    def close(self) -> None:
        with self._lock:
            if self._session is not None and self._session_pid == os.getpid():
                self._session.close()
            self._session = None


def _engine_errors() -> tuple[type[Exception], ...]:
    """What chDB raises for a failed query (imported late, like chDB itself)."""
    from chdb import ChdbError  # noqa: PLC0415

    return (RuntimeError, ChdbError)


def _rename(chunk: pa.Table, names: list[str]) -> pa.Table:
    return chunk.rename_columns(names) if chunk.column_names != names else chunk


def _part_name() -> str:
    return f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"


def _is_plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and not name.startswith(".") and name == Path(name).name


def _setting_literal(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and value.replace("_", "").isalnum():
        return sql_string(value)
    raise DatabaseError(f"Query setting value {value!r} is not supported.")
