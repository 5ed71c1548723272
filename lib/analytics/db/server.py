"""A ClickHouse server (or one of several replicas) through clickhouse-driver's native protocol."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pyarrow as pa
from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from ..config import Settings
from ..errors import ConfigError, QueryTimeoutError, ServerUnreachableError, UnknownTableError
from .base import Database
from .failures import translate
from .sql import bind, compose, identifier
from .types import arrow_schema, conform, unwrap

CHUNK_ROWS = 16_384  # rows per streamed chunk: small enough that a few in flight stay cheap
INSERT_BLOCK_ROWS = 500_000
_URL_OPTIONS = {"alt_hosts", "connect_timeout", "secure", "verify", "compression"}


class ServerDatabase(Database):
    kind = "server"

    def __init__(self, url: str, settings: Settings) -> None:
        super().__init__(url, settings)
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
        self._call("execute", bind(sql, params), settings=self.query_settings(stream=True))

    # --- catalog --------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        rows = self._call("execute", bind("SELECT name FROM system.tables WHERE database = %(db)s ORDER BY name",
                                          {"db": self.database}))
        return [name for (name,) in rows]

    def columns(self, table: str) -> dict[str, str]:
        rows = self._call("execute", bind("SELECT name, type FROM system.columns WHERE database = %(db)s AND table = %(t)s",
                                          {"db": self.database, "t": table}))
        if not rows:
            raise UnknownTableError(table, self.tables())
        return dict(rows)

    def create_table(self, name: str, columns: Mapping[str, str], *, order_by: Sequence[str] = (),
                     partition_by: str | None = None) -> None:
        table = identifier(name, [name], kind="table")
        names = [identifier(column, columns, table=name) for column in columns]
        definition = ", ".join(compose("{c} ", c=column) + columns[column] for column in names)
        key = compose("({k})", k=[identifier(column, columns, table=name) for column in order_by]) if order_by else "tuple()"
        partition = " PARTITION BY " + compose("toYYYYMM({c})", c=identifier(  # by month of a date column
            partition_by, columns, table=name)) if partition_by else ""
        statement = compose("CREATE TABLE IF NOT EXISTS {t} (", t=table) + definition + ") ENGINE = MergeTree()"
        self.execute(statement + partition + " ORDER BY " + key)

    def drop_table(self, name: str) -> None:
        self.execute(compose("DROP TABLE IF EXISTS {t}", t=identifier(name, [name], kind="table")))

    # --- reading and writing ---------------------------------------------------------------------------
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

    def _insert_arrow(self, table: str, chunks: Iterable[pa.Table]) -> int:
        columns = self.columns(table)
        names = [identifier(column, columns, table=table) for column in columns]
        statement = compose("INSERT INTO {t} ({c}) VALUES", t=identifier(table, [table], kind="table"), c=names)
        rows = 0
        for chunk in chunks:
            for offset in range(0, chunk.num_rows, INSERT_BLOCK_ROWS):
                block = chunk.slice(offset, INSERT_BLOCK_ROWS)
                data = [_driver_column(block.column(name), columns[name]) for name in columns]
                self._call("execute", statement, data, columnar=True, types_check=False,
                           settings={"use_numpy": True})
                rows += block.num_rows
        return rows

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


def _parse_hosts(text: str) -> list[tuple[str, int]]:
    hosts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.partition(":")
        hosts.append((host, int(port or 9000)))
    return hosts


def _reason(error: BaseException) -> str:
    text = getattr(error, "message", "") or str(error)
    return text.split("(")[0].strip().rstrip(".") or type(error).__name__
