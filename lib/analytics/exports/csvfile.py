"""CSV that Excel opens right: UTF-8 with a BOM, `,` or `;`, text that cannot run as a formula."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .cells import is_text, neutralize_formulas

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";")


def write_csv(chunks: Iterable[pa.Table], handle: IO[bytes], *, delimiter: str = ",",
              headers: Mapping[str, str] | None = None) -> int:
    """Stream ``chunks`` as CSV into ``handle``. Returns the number of rows."""
    if delimiter not in DELIMITERS:
        raise ValueError(f"delimiter must be one of {DELIMITERS}, not {delimiter!r}")
    handle.write(BOM)
    writer = None
    rows = 0
    options = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed", include_header=True)
    for chunk in chunks:
        prepared = _prepared(chunk, headers or {})
        if writer is None:
            writer = pacsv.CSVWriter(handle, prepared.schema, write_options=options)
        writer.write_table(prepared)
        rows += chunk.num_rows
    if writer is not None:
        writer.close()
    return rows


def _prepared(chunk: pa.Table, headers: Mapping[str, str]) -> pa.Table:
    arrays = []
    for column in chunk.columns:
        values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if is_text(values.type):
            values = neutralize_formulas(values)
        elif pa.types.is_floating(values.type):
            values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, values.type))
        elif pa.types.is_timestamp(values.type):
            values = pc.strftime(pc.cast(values, pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
        arrays.append(values)
    return pa.Table.from_arrays(arrays, names=[headers.get(name, name) for name in chunk.column_names])
