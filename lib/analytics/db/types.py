"""ClickHouse column types and their Arrow counterparts, shared by both backends.

Results travel as Arrow tables whatever the backend, so that a DateTime is a timestamp
and a card number stays text everywhere downstream (previews, exports).
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

_SIMPLE: dict[str, pa.DataType] = {
    "UInt8": pa.uint8(), "UInt16": pa.uint16(), "UInt32": pa.uint32(), "UInt64": pa.uint64(),
    "Int8": pa.int8(), "Int16": pa.int16(), "Int32": pa.int32(), "Int64": pa.int64(),
    "Float32": pa.float32(), "Float64": pa.float64(),
    "String": pa.string(), "Date": pa.date32(), "DateTime": pa.timestamp("s"),
    "UUID": pa.string(), "Bool": pa.bool_(),
}


def unwrap(ch_type: str) -> tuple[str, bool]:
    """Strip ``Nullable(...)``/``LowCardinality(...)``; return (inner type, nullable)."""
    nullable = False
    changed = True
    while changed:
        changed = False
        for wrapper in ("Nullable(", "LowCardinality("):
            if ch_type.startswith(wrapper) and ch_type.endswith(")"):
                nullable = nullable or wrapper == "Nullable("
                ch_type = ch_type[len(wrapper):-1]
                changed = True
    return ch_type, nullable


def arrow_type(ch_type: str) -> pa.DataType:
    """The Arrow type we use for a ClickHouse type (DateTime with a zone is kept naive UTC)."""
    inner, _ = unwrap(ch_type)
    if inner.startswith("DateTime64"):
        return pa.timestamp("ms")
    if inner.startswith("DateTime"):
        return pa.timestamp("s")
    if inner.startswith("FixedString") or inner.startswith("Enum"):
        return pa.string()
    if inner.startswith("Array(") and inner.endswith(")"):
        return pa.list_(arrow_type(inner[len("Array("):-1]))
    if inner.startswith("Decimal"):
        return pa.float64()
    return _SIMPLE.get(inner, pa.string())


def arrow_schema(columns: Mapping[str, str]) -> pa.Schema:
    return pa.schema([pa.field(name, arrow_type(kind), nullable=unwrap(kind)[1]) for name, kind in columns.items()])


def conform(table: pa.Table, columns: Mapping[str, str]) -> pa.Table:
    """Cast an Arrow table to our Arrow types for the given ClickHouse column types.

    chDB's Arrow output carries a DateTime as uint32 seconds; a DataFrame may carry
    int64 for a UInt32 column. Both become the declared type here, or fail loudly.
    """
    arrays = []
    for name, kind in columns.items():
        array = table.column(name)
        target = arrow_type(kind)
        if array.type != target:
            if pa.types.is_timestamp(target) and pa.types.is_integer(array.type):
                array = pc.cast(pc.cast(array, pa.int64()), pa.timestamp("s")).cast(target)
            elif pa.types.is_timestamp(target) and pa.types.is_timestamp(array.type):
                array = pc.cast(array, target, safe=False)
            else:
                array = pc.cast(array, target)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=list(columns))
