"""A ClickHouse server (or one of several replicas) through clickhouse-driver's native protocol.

Writes follow the same primitives as the embedded store, built from what ClickHouse 18.16
already has: bulk inserts re-batched into large blocks (each block is atomic on the server),
insert tokens kept in a small ledger table, keyed history in ``ReplacingMergeTree(version)``,
and whole partitions swapped from a staging table with ``ALTER TABLE … REPLACE PARTITION``.
How each table was declared is kept in a registry table, so every process knows its partitions.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pyarrow as pa
from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from ..config import Settings
from ..errors import ConfigError, DatabaseError, QueryTimeoutError, ServerUnreachableError, UnknownTableError
from .base import Database, WriteReport
from .failures import translate
from .sql import Identifier, bind, compose, identifier
from .tables import TableSpec
from .types import arrow_schema, conform, unwrap

CHUNK_ROWS = 16_384  # rows per streamed chunk: small enough that a few in flight stay cheap
INSERT_BLOCK_ROWS = 500_000  # an insert sends blocks this large (or INSERT_BLOCK_BYTES), never one per small chunk
INSERT_BLOCK_BYTES = 128 * 2**20
INTERNAL_PREFIX = "_analytics_"  # our own bookkeeping tables; never listed as warehouse tables
REGISTRY = INTERNAL_PREFIX + "tables"
TOKENS = INTERNAL_PREFIX + "insert_tokens"
STAGING_PREFIX = INTERNAL_PREFIX + "stage_"
_URL_OPTIONS = {"alt_hosts", "connect_timeout", "secure", "verify", "compression"}


class ServerDatabase(Database):
    kind = "server"

    def __init__(self, url: str, settings: Settings, *, read_only: bool = False) -> None:
        super().__init__(url, settings, read_only=read_only)
        parts = urlsplit(url)
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(options) - _URL_OPTIONS
        if unknown:
            raise ConfigError(f"The database URL has unknown options: {', '.join(sorted(unknown))}. "
                              f"Known: {', '.join(sorted(_URL_OPTIONS))}.")
        if not parts.hostname:
            raise ConfigError("The database URL names no host: use clickhouse://user:password@host:9000/database")
        self.user = unquote(parts.username or "default")
        self.database = unquote(parts.path.lstrip("/")) or "default"
        self.hosts = [(parts.hostname, parts.port or 9000)] + _parse_hosts(options.get("alt_hosts", ""))
        self._client = Client(
            host=parts.hostname, port=parts.port or 9000, user=self.user,
            password=unquote(parts.password or ""), database=self.database,
            alt_hosts=options.get("alt_hosts") or None,
            connect_timeout=float(options.get("connect_timeout", 5)),
            send_receive_timeout=settings.query_timeout_seconds + 30,
            secure=options.get("secure", "false").lower() in ("1", "true", "yes"),
            verify=options.get("verify", "true").lower() in ("1", "true", "yes"),
            compression=options.get("compression", "false").lower() in ("1", "true", "yes", "lz4"),
            client_name="analytics",
        )

    # --- running statements -----------------------------------------------------------------------
    def _call(self, method: str, sql: str, *args: Any, settings: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """Call the driver, turning its failures into ours."""
        limits = dict(settings or {})
        try:
            return getattr(self._client, method)(sql, *args, settings=limits, **kwargs)
        except driver_errors.SocketTimeoutError as error:
            raise QueryTimeoutError(limits.get("max_execution_time"), sql=sql, server_message=str(error)) from None
        except (driver_errors.NetworkError, OSError, EOFError) as error:
            raise ServerUnreachableError(self.hosts, _reason(error)) from None
        except driver_errors.ServerException as error:
            raise translate(error.code, error.message, sql=sql, user=self.user,
                            limit_seconds=limits.get("max_execution_time")) from None

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT ... SELECT) on the server."""
        self._refuse_if_read_only(sql)
        self._call("execute", bind(sql, params), settings=self.query_settings(stream=True))

    # --- catalog --------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        return [name for name in self._all_tables() if not name.startswith(INTERNAL_PREFIX)]

    def _all_tables(self) -> list[str]:
        rows = self._call("execute", bind("SELECT name FROM system.tables WHERE database = %(db)s ORDER BY name",
                                          {"db": self.database}))
        return [name for (name,) in rows]

    def columns(self, table: str) -> dict[str, str]:
        rows = self._call("execute", bind("SELECT name, type FROM system.columns WHERE database = %(db)s AND table = %(t)s",
                                          {"db": self.database, "t": table}))
        if not rows:
            raise UnknownTableError(table, self.tables())
        return dict(rows)

    def spec(self, table: str) -> TableSpec:
        """The declaration recorded when we created the table; columns alone for a table made elsewhere."""
        columns = self.columns(table)
        if REGISTRY in self._all_tables():
            rows = self._call("execute", bind("SELECT argMax(spec, at) FROM " + REGISTRY + " WHERE name = %(t)s",
                                              {"t": table}))
            if rows and rows[0][0]:
                spec = TableSpec.from_json(table, json.loads(rows[0][0]))
                if spec.columns == columns:
                    return spec
        return TableSpec(table, columns)

    def create_table(self, spec: TableSpec) -> None:
        self._refuse_if_read_only("create table", spec.name)
        if spec.name in self._all_tables():
            if not self.spec(spec.name).same_structure(spec):
                raise DatabaseError(f"Table '{spec.name}' already exists with another structure; drop it first to change it.")
            return
        self._create(spec, identifier(spec.name, [spec.name], kind="table"))
        self._register(spec)

    def _register(self, spec: TableSpec) -> None:
        """Keep the declaration (key, version, partitioning) beside the table, for :meth:`spec`."""
        self._ensure_internal(REGISTRY, "(name String, spec String, at UInt64) ENGINE = ReplacingMergeTree(at) ORDER BY name")
        self._call("execute", "INSERT INTO " + REGISTRY + " (name, spec, at) VALUES",
                   [(spec.name, json.dumps(spec.to_json(), ensure_ascii=False), time.time_ns())])

    def _create(self, spec: TableSpec, name: Identifier) -> None:
        self.execute(table_ddl(spec, name))

    def _ensure_internal(self, name: str, definition: str) -> None:
        self.execute("CREATE TABLE IF NOT EXISTS " + name + " " + definition)

    def drop_table(self, name: str) -> None:
        """Drop the table and forget its insert tokens, as the embedded store does (they live in the table's
        folder there): a table made again under the same name starts with no write already "done"."""
        self._refuse_if_read_only("drop table", name)
        self.execute(compose("DROP TABLE IF EXISTS {t}", t=identifier(name, [name], kind="table")))
        self._forget_tokens(name)

    def _forget_tokens(self, name: str) -> None:
        if TOKENS not in self._table_names():
            return
        if self._call("execute", bind("SELECT count() FROM " + TOKENS + " WHERE table = %(t)s", {"t": name}))[0][0]:
            self._call("execute", bind("ALTER TABLE " + TOKENS + " DELETE WHERE table = %(t)s", {"t": name}))
            self._wait_for_mutations(TOKENS)

    def _table_names(self) -> set[str]:
        return {row[0] for row in self._call("execute", bind(
            "SELECT name FROM system.tables WHERE database = %(db)s", {"db": self.database}))}

    def _wait_for_mutations(self, table: str, seconds: float = 30.0) -> None:
        """ALTER … DELETE is a background mutation on 18.16 (no mutations_sync): wait until it is done."""
        deadline = time.monotonic() + seconds
        query = bind("SELECT count() FROM system.mutations WHERE database = %(db)s AND table = %(t)s AND NOT is_done",
                     {"db": self.database, "t": table})
        while self._call("execute", query)[0][0] and time.monotonic() < deadline:
            time.sleep(0.05)

    def part_count(self, table: str) -> int:
        return int(self._call("execute", bind(
            "SELECT count() FROM system.parts WHERE database = %(db)s AND table = %(t)s AND active",
            {"db": self.database, "t": self.table(table)}))[0][0])

    def partitions(self, table: str) -> dict[str, int]:
        return self._partitions_of(self.table(table))

    def _partitions_of(self, table: str) -> dict[str, int]:
        """Rows per partition ID of any table of ours, the staging tables included."""
        rows = self._call("execute", bind(
            "SELECT partition_id, sum(rows) FROM system.parts WHERE database = %(db)s AND table = %(t)s AND active"
            " GROUP BY partition_id ORDER BY partition_id", {"db": self.database, "t": table}))
        return {str(partition): int(count) for partition, count in rows if count}

    # --- writing -------------------------------------------------------------------------------------
    def _insert_arrow(self, table: str, chunks: Iterable[pa.Table], token: str | None) -> WriteReport:
        if token is not None:
            self._ensure_internal(TOKENS, "(table String, token String, rows UInt64, at DateTime)"
                                          " ENGINE = ReplacingMergeTree(at) ORDER BY (table, token)")
            seen = self._call("execute", bind("SELECT count() FROM " + TOKENS + " WHERE table = %(t)s AND token = %(k)s",
                                              {"t": table, "k": token}))
            if seen[0][0]:
                return WriteReport(0, duplicate=True)
        rows = self._send(self.table(table), self.columns(table), chunks)
        if token is not None:
            self._call("execute", "INSERT INTO " + TOKENS + " (table, token, rows, at) VALUES",
                       [(table, token, rows, int(time.time()))])
        return WriteReport(rows)

    def _send(self, table: Identifier, columns: dict[str, str], chunks: Iterable[pa.Table]) -> int:
        """INSERT the chunks re-batched into blocks of INSERT_BLOCK_ROWS rows or INSERT_BLOCK_BYTES bytes."""
        names = [identifier(column, columns, table=table) for column in columns]
        statement = compose("INSERT INTO {t} ({c}) VALUES", t=table, c=names)
        rows, pending, pending_rows, pending_bytes = 0, [], 0, 0

        def flush() -> None:
            block = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
            data = [_driver_column(block.column(name), columns[name]) for name in columns]
            self._call("execute", statement, data, columnar=True, types_check=False, settings={"use_numpy": True})
            pending.clear()

        for chunk in chunks:
            for offset in range(0, chunk.num_rows, INSERT_BLOCK_ROWS):
                piece = chunk.slice(offset, INSERT_BLOCK_ROWS)
                pending.append(piece)
                pending_rows, pending_bytes = pending_rows + piece.num_rows, pending_bytes + piece.nbytes
                rows += piece.num_rows
                if pending_rows >= INSERT_BLOCK_ROWS or pending_bytes >= INSERT_BLOCK_BYTES:
                    flush()
                    pending_rows = pending_bytes = 0
        if pending_rows:
            flush()
        return rows

    def replace_partitions(self, table: str, partitions: Mapping[Any, Any]) -> int:
        """Each partition is swapped by one ``ALTER TABLE … REPLACE PARTITION … FROM`` a staging table.

        Each partition is atomic for every reader; several partitions are swapped one after another,
        so a reader between two swaps sees some new and some old, each whole.
        """
        self._refuse_if_read_only("replace partitions of", table)
        spec = self.spec(table)
        if spec.partitioning is None:
            raise DatabaseError(f"Table '{table}' has no partitions; declare partition_by to replace or drop them.")
        wanted = {spec.partitioning.id_of(value): data for value, data in partitions.items()}
        target = self.table(table)
        staging_name = f"{STAGING_PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
        staging = identifier(staging_name, [staging_name], kind="table")
        self.execute(compose("CREATE TABLE {s} AS {t}", s=staging, t=target))
        try:
            columns = self.columns(table)
            rows = self._send(staging, columns, (chunk for data in wanted.values() for chunk in self._batches(table, data)))
            filled = self._partitions_of(staging)
            unexpected = set(filled) - set(wanted)
            if unexpected:
                raise DatabaseError(f"Rows for partition {sorted(unexpected)[0]} were given among the rows for "
                                    f"{', '.join(sorted(wanted))} of table '{table}'.")
            for partition in sorted(wanted):
                if partition in filled:
                    self.execute(compose("ALTER TABLE {t} REPLACE PARTITION ID %(p)s FROM {s}", t=target, s=staging),
                                 {"p": partition})
                else:
                    self.execute(compose("ALTER TABLE {t} DROP PARTITION ID %(p)s", t=target), {"p": partition})
        finally:
            self.execute(compose("DROP TABLE IF EXISTS {s}", s=staging))
        return rows

    def drop_partitions(self, table: str, partitions: Iterable[Any]) -> None:
        self._refuse_if_read_only("drop partitions of", table)
        spec = self.spec(table)
        if spec.partitioning is None:
            raise DatabaseError(f"Table '{table}' has no partitions; declare partition_by to replace or drop them.")
        for partition in sorted({spec.partitioning.id_of(value) for value in partitions}):
            self.execute(compose("ALTER TABLE {t} DROP PARTITION ID %(p)s", t=self.table(table)), {"p": partition})

    def compact(self, table: str | None = None) -> int:
        """``OPTIMIZE TABLE … FINAL`` per partition: merges parts now instead of in the background."""
        self._refuse_if_read_only("compact")
        names = [table] if table else self.tables()
        merged = 0
        for name in names:
            before = self.part_count(name)
            target = self.table(name)
            for partition in self._partitions_of(name) or [None]:
                where = " PARTITION ID %(p)s" if partition is not None else ""
                self.execute(compose("OPTIMIZE TABLE {t}", t=target) + where + " FINAL", {"p": partition})
            merged += before - self.part_count(name)
        return merged

    def collect_garbage(self, table: str | None = None) -> int:
        """Drop staging tables that interrupted replaces left, once older than the grace period."""
        self._refuse_if_read_only("collect garbage")
        cutoff = time.time() - self.settings.store_grace_seconds
        removed = 0
        for name in self._all_tables():
            if name.startswith(STAGING_PREFIX) and int(name[len(STAGING_PREFIX):].split("_")[0] or 0) < cutoff:
                self.execute(compose("DROP TABLE IF EXISTS {s}", s=identifier(name, [name], kind="table")))
                removed += 1
        return removed

    # --- reading ---------------------------------------------------------------------------------------
    def _stream(self, bound_sql: str, settings: dict[str, Any]) -> Iterator[pa.Table]:
        limits = {**settings, "max_block_size": CHUNK_ROWS}
        rows = self._call("execute_iter", bound_sql, settings=limits, with_column_types=True)
        try:
            described = next(rows)
            types = dict(described)
            produced = False
            while True:
                batch = list(islice(rows, CHUNK_ROWS))
                if not batch:
                    break
                produced = True
                yield _arrow_from_rows(batch, types)
            if not produced:
                yield arrow_schema(types).empty_table()
        except driver_errors.SocketTimeoutError as error:
            raise QueryTimeoutError(settings.get("max_execution_time"), sql=bound_sql, server_message=str(error)) from None
        except (driver_errors.NetworkError, EOFError) as error:
            raise ServerUnreachableError(self.hosts, _reason(error)) from None
        except driver_errors.ServerException as error:
            raise translate(error.code, error.message, sql=bound_sql, user=self.user,
                            limit_seconds=settings.get("max_execution_time")) from None
        finally:
            rows.close()

    def close(self) -> None:
        self._client.disconnect()


def _driver_column(array: pa.ChunkedArray, ch_type: str) -> Any:
    """One column in the form clickhouse-driver's numpy path inserts fastest."""
    inner, nullable = unwrap(ch_type)
    if nullable or inner in ("String", "Date"):
        return np.array(array.to_pylist(), dtype=object)
    if inner.startswith("DateTime"):
        return array.to_numpy().astype("datetime64[s]")
    return array.to_numpy()


def _arrow_from_rows(rows: list[tuple], types: Mapping[str, str]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    schema = arrow_schema(types)
    arrays = [pa.array(list(values), type=field.type) for values, field in zip(columns, schema, strict=True)]
    return conform(pa.Table.from_arrays(arrays, schema=schema), types)


def table_ddl(spec: TableSpec, name: Identifier) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of ``spec`` under ``name``: MergeTree, or ReplacingMergeTree for keyed history."""
    names = [identifier(column, spec.columns, table=spec.name) for column in spec.columns]
    definition = ", ".join(compose("{c} ", c=column) + spec.columns[column] for column in names)
    sort = [identifier(column, spec.columns, table=spec.name) for column in spec.sort_key]
    key = compose("({k})", k=sort) if sort else "tuple()"
    engine = spec.engine + "(" + (compose("{v}", v=sort[-1]) if spec.version else "") + ")"
    partition = " PARTITION BY " + spec.partitioning.sql if spec.partitioning else ""
    return (compose("CREATE TABLE IF NOT EXISTS {t} (", t=name) + definition + ") ENGINE = " + engine + partition
            + " ORDER BY " + key)


def _parse_hosts(text: str) -> list[tuple[str, int]]:
    hosts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.partition(":")
        hosts.append((host, int(port or 9000)))
    return hosts


def _reason(error: BaseException) -> str:
    text = getattr(error, "message", "") or str(error)
    return text.split("(")[0].strip().rstrip(".") or type(error).__name__
