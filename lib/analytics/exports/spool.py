"""One result, read once into a temporary Arrow file (the spool), then written into each of its file formats.

Why a spool: the rows are read from the database once, memory stays flat, and the preview, the XLSX
and the CSV all come from the same snapshot. Why the checks between chunks, in both phases: writing a
million-row export takes seconds, and a person who presses Cancel then must get no file at all (nor a
half-written one, nor the one format that was already finished), while one who waits sees how far it is.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..context import raise_if_cancelled
from ..db import Database
from ..errors import AnalyticsError
from ..results import ReportQuery
from . import ExportResult, SheetSource, export

PREVIEW_ROWS = 20  # the rows a page shows of a result: the first ones of the whole result, whatever its chunks

# Rows read (an int), or the words of the file phase ("Writing the files: 400,000 of 1,000,000 rows (XLSX)…"):
# what the form's status line takes.
Progress = Callable[[int | str], None]
FirstLook = Callable[[int, pd.DataFrame], None]
Exported = list[tuple[ReportQuery, ExportResult]]


def export_query(query: ReportQuery, db: Database, folder: Path, formats: tuple[str, ...], delimiter: str,
                 progress: Progress | None, cancelled: threading.Event | None, run_id: str,
                 look: FirstLook | None = None) -> tuple[int, pd.DataFrame, Exported]:
    """Spool one result once, then write each of its formats from the spool.

    Either every file is written, or (Cancel, an error) none is left: the finished ones are removed too,
    so a person is never offered part of what they asked for.
    """
    spool = folder / f".spool-{os.getpid()}-{run_id}-{secrets.token_hex(4)}.arrow"  # its writer's pid: see sweep
    chunks = iter([query.data]) if query.data is not None else db.iter_chunks(query.sql, query.params)
    written: Exported = []
    try:
        rows, preview = spool_rows(chunks, spool, progress, cancelled)
        if look is not None:
            look(rows, preview)
        chosen = query.formats or formats
        for file_format in chosen:
            source = watched(read_spool(spool), cancelled, progress, rows, file_format if len(chosen) > 1 else "")
            written.append((query, export(source, folder, query.name, query.key_params, file_format=file_format,
                                          delimiter=delimiter, headers=query.headers, title=query.label or "Data",
                                          more_sheets=_sheets(query, db, cancelled) if file_format == "xlsx" else ())))
            check_complete(written[-1][1], rows)
        raise_if_cancelled(cancelled)  # a Cancel that came while the last file was closing still means no file
    except BaseException:
        for _, result in written:
            result.path.unlink(missing_ok=True)
        raise
    finally:
        spool.unlink(missing_ok=True)
    return rows, preview, written


def spool_rows(chunks: Iterator[pa.Table], path: Path, progress: Progress | None,
               cancelled: threading.Event | None) -> tuple[int, pd.DataFrame]:
    """Write the chunks into the Arrow file ``path``; return the rows and the first PREVIEW_ROWS of them.

    The preview is taken across chunks: a result whose first chunk is short (a list of two audiences
    read in two parts) still previews all of its first rows.
    """
    rows = 0
    head: list[pa.Table] = []
    writer = None
    try:
        for chunk in chunks:
            raise_if_cancelled(cancelled)
            if writer is None:
                writer = pa.ipc.new_file(str(path), chunk.schema)
            kept = sum(part.num_rows for part in head)
            if not head or kept < PREVIEW_ROWS:
                head.append(chunk.slice(0, PREVIEW_ROWS - kept))
            writer.write_table(chunk)
            rows += chunk.num_rows
            if progress is not None:
                progress(rows)
    finally:
        if writer is not None:
            writer.close()
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # stops the query on the server when cancelled
    if not head:
        raise ValueError("the database gave no chunk at all, not even an empty one with the columns")
    return rows, pa.concat_tables(head).to_pandas()


def read_spool(path: Path) -> Iterator[pa.Table]:
    """The spool's chunks as written (an empty table with the columns when there are no rows)."""
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_file(source)
        if reader.num_record_batches == 0:
            yield reader.schema.empty_table()
        for index in range(reader.num_record_batches):
            yield pa.Table.from_batches([reader.get_batch(index)])


def watched(chunks: Iterable[pa.Table], cancelled: threading.Event | None, progress: Progress | None = None,
            total: int = 0, file_format: str = "") -> Iterator[pa.Table]:
    """The chunks, with Cancel checked before each one and, when ``progress`` listens, the rows written so far."""
    done = 0
    which = f" ({file_format.upper()})" if file_format else ""
    for chunk in chunks:
        raise_if_cancelled(cancelled)
        yield chunk
        done += chunk.num_rows
        if progress is not None:
            progress(f"Writing the files: {done:,} of {total:,} rows{which}…")


class IncompleteFile(AnalyticsError):
    """A file came out with other than the result's rows: it is never offered (a short file gives wrong totals)."""

    def __init__(self, result: ExportResult, expected: int) -> None:
        self.result, self.expected = result, expected
        super().__init__(f"The {result.format.upper()} file came out with {result.rows:,} rows instead of {expected:,}, "
                         "so no file was kept. Please tell the analysts; they will find the run in the log.")


def check_complete(result: ExportResult, expected: int) -> None:
    """Refuse a table file (XLSX, CSV) that does not hold exactly the rows read; an ID list skips empty IDs."""
    if result.format in ("xlsx", "csv") and result.rows != expected:
        raise IncompleteFile(result, expected)


def _sheets(query: ReportQuery, db: Database, cancelled: threading.Event | None) -> list[SheetSource]:
    """The further tables of a workbook, each read (or taken from memory) as its sheet is written."""
    return [SheetSource(watched(iter([sheet.data]) if sheet.data is not None else db.iter_chunks(sheet.sql, sheet.params),
                                cancelled), sheet.label or sheet.name, sheet.headers) for sheet in query.sheets]
