"""Exports: streaming XLSX and CSV files that land complete (or not at all) under ``reports/exports/``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..errors import ParameterError
from .csvfile import DELIMITERS, write_csv
from .files import atomic_file, export_name
from .idlist import write_id_list
from .xlsx import SHEET_ROWS, SheetSource, write_workbook, write_xlsx

FORMATS = ("xlsx", "csv", "txt")  # txt: an ID list for ad platforms, one per line

__all__ = ["FORMATS", "SHEET_ROWS", "ExportResult", "SheetSource", "export", "export_name", "write_csv", "write_xlsx"]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    rows: int
    sheets: int = 1
    extra_sheets: tuple[str, ...] = ()  # titles of the further tables in the same workbook

    @property
    def note(self) -> str:
        """What a person should know about the file, in plain words."""
        if self.extra_sheets:
            sheets = ", ".join(f"“{sheet}”" for sheet in self.extra_sheets)
            return f"{self.rows:,} rows, and the sheet{'s' if len(self.extra_sheets) > 1 else ''} {sheets}."
        if self.sheets > 1:
            return (f"{self.rows:,} rows: more than one Excel sheet holds, so the file has {self.sheets} sheets; "
                    "each starts with the header.")
        return f"{self.rows:,} rows."


def export(chunks: Iterable[pa.Table], folder: Path, report: str, key_params: Mapping[str, object], *,
           file_format: str = "xlsx", delimiter: str = ",", headers: Mapping[str, str] | None = None,
           sheet_rows: int = SHEET_ROWS, title: str = "Data", more_sheets: Sequence[SheetSource] = ()) -> ExportResult:
    """Write the rows to a new file in ``folder``; the file appears only when complete.

    ``more_sheets`` are further tables of the same XLSX workbook (other formats hold the rows alone).
    """
    if file_format not in FORMATS:
        raise ParameterError("format", file_format, f"one of {', '.join(FORMATS)}")
    if delimiter not in DELIMITERS:
        raise ParameterError("delimiter", delimiter, "a comma or a semicolon")
    path = folder / export_name(report, key_params, file_format)
    with atomic_file(path) as handle:
        if file_format == "xlsx":
            counts, sheets = write_workbook([SheetSource(chunks, title, headers or {}), *more_sheets], handle,
                                            sheet_rows=sheet_rows)
            rows = counts[0]
        elif file_format == "txt":
            rows, sheets = write_id_list(chunks, handle), 1
        else:
            rows, sheets = write_csv(chunks, handle, delimiter=delimiter, headers=headers), 1
    extra = tuple(source.title for source in more_sheets) if file_format == "xlsx" else ()
    return ExportResult(path, file_format, rows, sheets, extra)
