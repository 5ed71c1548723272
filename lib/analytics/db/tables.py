"""How a table is declared, once, for both backends: columns, sort key, history key and version, partitions.

A :class:`TableSpec` is all either backend needs to create a table and to write into it with
the same meaning: ``partition_by`` names the same partitions on the embedded store (one part
file per partition) and on a server (``PARTITION BY``); ``key`` plus ``version`` make a table
of keyed history (every version kept, readers take the highest with :meth:`TableSpec.current`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import DatabaseError
from .sql import Identifier, compose, identifier

# The partition expressions both backends compute identically; each yields ClickHouse's partition ID.
PARTITION_FUNCTIONS = ("toYYYYMM", "toMonday", "toDate")
_PARTITION = re.compile(r"^\s*(?:(?P<function>\w+)\(\s*(?P<inner>\w+)\s*\)|(?P<column>\w+))\s*$")


@dataclass(frozen=True)
class Partitioning:
    """``column``, ``toDate(column)``, ``toMonday(column)`` or ``toYYYYMM(column)`` of a Date or DateTime column.

    Partition values are written as ClickHouse writes partition IDs: ``20261001`` for a day or a
    week's Monday, ``202610`` for a month, so a partition has one name on both backends.
    """

    function: str  # "" for the bare column
    column: Identifier

    @classmethod
    def parse(cls, expression: str, columns: Mapping[str, str], table: str) -> Partitioning:
        found = _PARTITION.match(expression or "")
        if not found or (found.group("function") and found.group("function") not in PARTITION_FUNCTIONS):
            raise DatabaseError(f"Table '{table}': partition_by must be a Date column or "
                                f"{', '.join(f + '(column)' for f in PARTITION_FUNCTIONS)}, not {expression!r}.")
        name = found.group("inner") or found.group("column")
        column = identifier(name, columns, table=table)
        if not columns[name].startswith(("Date", "Nullable(Date")) or "Nullable" in columns[name]:
            raise DatabaseError(f"Table '{table}': partitions need a Date or DateTime column; '{name}' is {columns[name]}.")
        if not found.group("function") and columns[name] != "Date":
            raise DatabaseError(f"Table '{table}': partition a DateTime column by toDate({name}), not by the time itself.")
        return cls(found.group("function") or "", column)

    @property
    def sql(self) -> str:
        """The expression for ``PARTITION BY``, made of a checked column and a known function."""
        return compose(self.function + "({c})" if self.function else "{c}", c=self.column)

    def ids(self, values: pa.ChunkedArray | pa.Array) -> np.ndarray:
        """The partition ID of every row, as strings."""
        days = values.cast(pa.timestamp("s")).cast(pa.date32()) if pa.types.is_timestamp(values.type) else values
        numbers = np.asarray(days.cast(pa.int32()).to_numpy(zero_copy_only=False), dtype="int64")
        if self.function == "toMonday":
            numbers = numbers - (numbers + 3) % 7  # 1970-01-01 was a Thursday
        dates = numbers.astype("datetime64[D]")
        if self.function == "toYYYYMM":
            return np.char.replace(np.datetime_as_string(dates.astype("datetime64[M]")), "-", "")
        return np.char.replace(np.datetime_as_string(dates), "-", "")

    def id_of(self, value: Any) -> str:
        """The partition ID of one value: a date, a datetime, ``202610``, ``'2026-10-01'`` or an ID itself."""
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            return str(self.ids(pa.array([value], pa.date32()))[0])
        text = str(value).strip()
        if self.function == "toYYYYMM" and re.fullmatch(r"\d{6}", text):
            return text
        if re.fullmatch(r"\d{8}", text):
            return self.id_of(dt.date(int(text[:4]), int(text[4:6]), int(text[6:])))
        try:
            return self.id_of(dt.date.fromisoformat(text))
        except ValueError:
            raise DatabaseError(f"{value!r} does not name a partition of {self.sql}: give a date "
                                "(2026-10-01) or a partition ID (20261001, or 202610 for months).") from None


@dataclass(frozen=True)
class TableSpec:
    """A table as both backends create it.

    * ``order_by``: the sort key (``ORDER BY`` on a server).
    * ``partition_by``: see :class:`Partitioning`; replace and drop work on whole partitions.
    * ``key`` and ``version``: keyed history. Every version is kept; the current row of a key is
      the one with the highest version (:meth:`current`). On a server the engine is
      ``ReplacingMergeTree(version)`` sorted by key and version, so an identical retry collapses.
    """

    name: str
    columns: dict[str, str]
    order_by: tuple[str, ...] = ()
    partition_by: str | None = None
    key: tuple[str, ...] = ()
    version: str | None = None
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        identifier(self.name, [self.name], kind="table")
        for name in (*self.columns, *self.order_by, *self.key, *([self.version] if self.version else [])):
            identifier(name, self.columns, table=self.name)
        if bool(self.key) != bool(self.version):
            raise DatabaseError(f"Table '{self.name}': keyed history needs both a key and a version column.")
        if self.partition_by:
            self.partitioning  # noqa: B018 - validates the expression

    @property
    def partitioning(self) -> Partitioning | None:
        return Partitioning.parse(self.partition_by, self.columns, self.name) if self.partition_by else None

    @property
    def engine(self) -> str:
        return "ReplacingMergeTree" if self.version else "MergeTree"

    @property
    def sort_key(self) -> tuple[str, ...]:
        """What a server sorts by: the key and version for keyed history (so versions never collapse)."""
        if self.version:
            return (*self.key, self.version)
        return self.order_by

    def label(self, column: str) -> str:
        """The plain name of a column for people ("Card number"), or the column name itself."""
        return self.labels.get(column, column)

    def current(self, columns: list[str] | None = None) -> str:
        """A subquery of the current version of every key, the same SQL on ClickHouse 18.16 and 26.

        ``LIMIT 1 BY`` keeps the highest version per key; ``FINAL`` is avoided (the embedded
        store's views cannot do it, and it would drop older versions anyway).
        """
        if not self.version:
            raise DatabaseError(f"Table '{self.name}' keeps no versions; declare key and version to read current rows.")
        chosen = [identifier(name, self.columns, table=self.name) for name in (columns or list(self.columns))]
        key = [identifier(name, self.columns, table=self.name) for name in self.key]
        return compose("(SELECT {c} FROM {t} ORDER BY {v} DESC LIMIT 1 BY {k})", c=chosen,
                       t=identifier(self.name, [self.name], kind="table"),
                       v=identifier(self.version, self.columns, table=self.name), k=key)

    def arrow(self, values: Mapping[str, Any]) -> pa.Table:
        """Rows given as lists per column, typed as this table declares (a UInt64 salt above 2^63 stays exact)."""
        from .types import arrow_type  # noqa: PLC0415 - types imports nothing of ours, tables is imported first

        return pa.table({name: pa.array(values[name], arrow_type(kind)) for name, kind in self.columns.items()})

    def to_json(self) -> dict[str, Any]:
        return {"columns": [list(item) for item in self.columns.items()], "order_by": list(self.order_by),
                "partition_by": self.partition_by, "key": list(self.key), "version": self.version}

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> TableSpec:
        return cls(name, dict(map(tuple, data["columns"])), tuple(data.get("order_by", ())), data.get("partition_by"),
                   tuple(data.get("key", ())), data.get("version"))

    def same_structure(self, other: TableSpec) -> bool:
        return self.to_json() == other.to_json()
