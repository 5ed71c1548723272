"""The one interface reports use, whatever holds the data.

Backends implement a handful of primitives (stream Arrow chunks of bound SQL, insert
Arrow tables, replace and drop partitions, compact, list tables and columns, create and
drop tables); everything a report calls (DataFrames, row iteration, checked identifiers,
query limits) lives here once. The write primitives mean the same on both backends; where
a server cannot give the same guarantee, the method's docstring says so.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from ..config import Settings
from ..errors import DatabaseError, ReadOnlyAccountError, ResultTooLargeError, UnknownColumnError
from .sql import Identifier, bind, identifier
from .tables import TableSpec
from .types import conform, unwrap

Params = Mapping[str, Any] | None
Data = pd.DataFrame | pa.Table


@dataclass(frozen=True)
class WriteReport:
    """What one insert did: rows written, or none because its token was already committed."""

    rows: int
    duplicate: bool = False


class Database(abc.ABC):
    """A connection to the warehouse: query, stream, insert, introspect."""

    #: "embedded" or "server", for messages and for the few places that must differ
    kind: str = ""

    def __init__(self, url: str, settings: Settings, *, read_only: bool = False) -> None:
        self.url = url
        self.settings = settings
        #: a reader (reports): every write primitive and any statement other than a query is refused.
        #: On a server the account's ``readonly`` profile is the real guard; on the embedded store,
        #: which has no accounts, this flag is.
        self.read_only = read_only

    def _refuse_if_read_only(self, action: str, table: str = "") -> None:
        """Raise the read-only error a reader gets for any write (the library's writers use a writer connection).
        ``action`` and ``table`` only name the refused write in the error; nothing here is ever executed."""
        if self.read_only:
            raise ReadOnlyAccountError(sql=" ".join(part for part in (action, table) if part))

    # --- query limits: the one place they are set -------------------------------------
    def query_settings(self, overrides: Mapping[str, Any] | None = None, *, stream: bool = False) -> dict[str, Any]:
        """ClickHouse settings for one query: time limit always, row limit unless streaming."""
        limits: dict[str, Any] = {"max_execution_time": int(round(self.settings.query_timeout_seconds))}
        if not stream:
            limits.update(max_result_rows=self.settings.max_result_rows, result_overflow_mode="throw")
        limits.update(overrides or {})
        return limits

    # --- reading ------------------------------------------------------------------------
    def iter_chunks(self, sql: str, params: Params = None, *, settings: Mapping[str, Any] | None = None) -> Iterator[pa.Table]:
        """Stream the result as Arrow tables of a few ten thousand rows each.

        For results too big for memory (exports): no row limit applies, only the time limit.
        """
        return self._stream(bind(sql, params), self.query_settings(settings, stream=True))

    def iter_rows(self, sql: str, params: Params = None, *, settings: Mapping[str, Any] | None = None) -> Iterator[tuple]:
        """Stream the result row by row (tuples), reading it chunk by chunk."""
        for chunk in self.iter_chunks(sql, params, settings=settings):
            yield from zip(*(column.to_pylist() for column in chunk.columns), strict=True)

    def query_arrow(self, sql: str, params: Params = None, *, settings: Mapping[str, Any] | None = None) -> pa.Table:
        """The whole result as one Arrow table, at most ``max_result_rows`` rows."""
        limits = self.query_settings(settings)
        chunks = list(self._stream(bind(sql, params), limits))
        result = pa.concat_tables(chunks) if len(chunks) > 1 else chunks[0]
        if result.num_rows > limits["max_result_rows"]:
            raise ResultTooLargeError(f"The result has more than {limits['max_result_rows']:,} rows.", sql=sql)
        return result

    def query(self, sql: str, params: Params = None, *, settings: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """The whole result as a DataFrame (DateTime as datetime64, card numbers as text)."""
        return self.query_arrow(sql, params, settings=settings).to_pandas()

    def scalar(self, sql: str, params: Params = None) -> Any:
        """The single value of a one-row, one-column query."""
        table = self.query_arrow(sql, params)
        return table.column(0)[0].as_py() if table.num_rows else None

    # --- writing ------------------------------------------------------------------------
    def insert(self, table: str, data: Data | Iterable[Data], *, token: str | None = None) -> int:
        """Append rows; the data's columns must be exactly the table's. Returns the rows written.

        ``token`` names this write: when a write with the same token was already committed to the
        table, nothing is written and 0 is returned, so a retry or a re-run is a no-op.

        What is atomic where:

        * embedded store: the whole call, whatever its size and however many partitions it spans;
          two processes racing with one token commit one copy (decided under the table lock);
        * server: each block the call sends (up to ``INSERT_BLOCK_ROWS`` rows and one partition
          per block part) is atomic, the call as a whole is not; a token is checked before the
          write and recorded after it, so a retry after a finished write is a no-op, while two
          writers racing with one token can both write (on a keyed table, identical rows then
          collapse in ReplacingMergeTree; newer servers close the gap with insert_deduplication_token).
        """
        return self.write(table, data, token=token).rows

    def write(self, table: str, data: Data | Iterable[Data], *, token: str | None = None) -> WriteReport:
        """:meth:`insert`, telling apart "no rows" from "already written under this token"."""
        self._refuse_if_read_only("insert into", table)
        if token is not None and (not isinstance(token, str) or not token or len(token) > 200):
            raise DatabaseError("An insert token must be non-empty text of at most 200 characters.")
        return self._insert_arrow(table, self._batches(table, data), token)

    def _batches(self, table: str, data: Data | Iterable[Data]) -> Iterator[pa.Table]:
        columns = self.columns(table)
        batches = [data] if isinstance(data, (pd.DataFrame, pa.Table)) else data
        return (self._conformed(table, columns, batch) for batch in batches)

    @abc.abstractmethod
    def replace_partitions(self, table: str, partitions: Mapping[Any, Data | Iterable[Data]]) -> int:
        """Replace whole partitions (days, weeks or months, as the table declares) with new rows.

        At every moment every reader sees each partition wholly old or wholly new; a partition
        given no rows becomes empty. Returns the rows written.
        """

    @abc.abstractmethod
    def drop_partitions(self, table: str, partitions: Iterable[Any]) -> None:
        """Remove whole partitions (retention); each disappears at once for every reader."""

    @abc.abstractmethod
    def partitions(self, table: str) -> dict[str, int]:
        """Partition ID to row count, for tables declared with ``partition_by``."""

    @abc.abstractmethod
    def compact(self, table: str | None = None) -> int:
        """Merge small parts now (all tables when none is named); queries answer the same afterwards."""

    @abc.abstractmethod
    def collect_garbage(self, table: str | None = None) -> int:
        """Remove leftovers of interrupted or superseded writes older than the grace period; returns how many."""

    @abc.abstractmethod
    def part_count(self, table: str) -> int:
        """How many data parts the table has now (what compaction reduces)."""

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Inside, queries read one fixed state of every table where the backend can promise it (embedded)."""
        yield

    def _conformed(self, table: str, columns: dict[str, str], data: Data) -> pa.Table:
        arrow = pa.Table.from_pandas(data, preserve_index=False) if isinstance(data, pd.DataFrame) else data
        given, wanted = set(arrow.column_names), set(columns)
        for name in sorted(given - wanted):
            raise UnknownColumnError(name, table, list(columns))
        if wanted - given:
            raise DatabaseError(f"The data for table '{table}' lacks the columns {', '.join(sorted(wanted - given))}.")
        try:
            return conform(arrow, columns)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
            raise DatabaseError(f"The data for table '{table}' does not fit its column types: {error}") from error

    # --- names ----------------------------------------------------------------------------
    def table(self, name: str) -> Identifier:
        """A checked table name, refused with the list of known tables if unknown."""
        return identifier(name, self.tables(), kind="table")

    def column(self, table: str, name: str) -> Identifier:
        """A checked column name of ``table``, refused with the allowed names if unknown."""
        return identifier(name, self.columns(table), table=table)

    def columns_checked(self, table: str, names: Sequence[str]) -> list[Identifier]:
        known = self.columns(table)
        return [identifier(name, known, table=table) for name in names]

    def checksum(self, table: str) -> tuple[int, int]:
        """(rows, order-independent hash over every column), equal across backends for equal data."""
        columns = self.columns(table)
        parts = [_normalized(self.column(table, name), kind) for name, kind in columns.items()]
        sql = "SELECT count(), sum(cityHash64(" + ", ".join(parts) + ")) FROM " + self.table(table).quoted
        rows, total = self.query_arrow(sql).to_pylist()[0].values()
        return int(rows), int(total or 0)

    # --- primitives each backend provides ---------------------------------------------------
    @abc.abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables in the warehouse."""

    @abc.abstractmethod
    def columns(self, table: str) -> dict[str, str]:
        """Column name to ClickHouse type, in table order; UnknownTableError if absent."""

    @abc.abstractmethod
    def spec(self, table: str) -> TableSpec:
        """How the table was declared (columns, sort key, partitions, key and version)."""

    @abc.abstractmethod
    def create_table(self, spec: TableSpec) -> None:
        """Create the table if it does not exist (the same structure is expected if it does)."""

    @abc.abstractmethod
    def drop_table(self, name: str) -> None:
        """Remove the table and its rows if it exists."""

    @abc.abstractmethod
    def _stream(self, bound_sql: str, settings: dict[str, Any]) -> Iterator[pa.Table]:
        """Run already-bound SQL and yield Arrow chunks conformed to the result's types."""

    @abc.abstractmethod
    def _insert_arrow(self, table: str, chunks: Iterable[pa.Table], token: str | None) -> WriteReport:
        """Write conformed Arrow chunks as one insert, unless ``token`` was already committed."""

    def release_memory(self) -> None:  # noqa: B027 - a server keeps nothing of ours in this process
        """Hand back memory the engine in this process keeps after queries (see the embedded store)."""

    def close(self) -> None:  # noqa: B027 - backends without connections need nothing
        """Release connections; the object may not be used afterwards."""

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _normalized(column: Identifier, ch_type: str) -> str:
    """A column as text that both ClickHouse 18 and 26 render identically."""
    inner, nullable = unwrap(ch_type)
    value = "assumeNotNull(" + column.quoted + ")" if nullable else column.quoted
    text = "toString(toUInt32(" + value + "))" if inner.startswith("DateTime") else "toString(" + value + ")"
    return "if(isNull(" + column.quoted + "), '\\\\N', " + text + ")" if nullable else text
