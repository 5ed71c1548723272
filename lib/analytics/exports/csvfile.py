"""CSV that Excel opens right: UTF-8 with a BOM, `,` or `;`, text that cannot run as a formula."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .cells import is_text, neutralize_formulas
from .prefetch import prefetched

BOM = b"\xef\xbb\xbf"
_IN_FLIGHT = 3
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
    # Arrow compute releases the GIL: chunks are prepared on two threads while the next ones stream in.
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: deque[Future[pa.Table]] = deque()

        def write_oldest() -> None:
            nonlocal writer
            prepared = pending.popleft().result()
            if writer is None:
                writer = pacsv.CSVWriter(handle, prepared.schema, write_options=options)
            writer.write_table(prepared)

        for chunk in prefetched(chunks):
            pending.append(pool.submit(_prepared, chunk, headers or {}))
            rows += chunk.num_rows
            if len(pending) > _IN_FLIGHT:
                write_oldest()
        while pending:
            write_oldest()
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
        elif pa.types.is_timestamp(values.type) and values.type.unit != "s":
            values = pc.cast(values, pa.timestamp("s"), safe=False)  # Arrow writes seconds as 2026-01-02 03:04:05
        arrays.append(values)
    return pa.Table.from_arrays(arrays, names=[headers.get(name, name) for name in chunk.column_names])
