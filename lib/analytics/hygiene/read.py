"""STAND-IN (branch hyclean only): the minimal ``read_source`` the cleaning code needs to run.

The real module is written in parallel and replaces this file at merge; nothing here is meant to last.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import AnalyticsError


class UnreadableFile(AnalyticsError):
    """STAND-IN: the file is not a table we can read."""


@dataclass(frozen=True)
class Source:
    """STAND-IN: string columns, original row numbers (header = row 1), and rows that could not be read."""

    table: pa.Table
    rows: pa.Array
    encoding: str
    delimiter: str
    unreadable: list[tuple[int, str, str]]


def read_source(path: Path, *, max_cell: int = 10_000) -> Source:
    """STAND-IN: a CSV in UTF-8 or Windows-1251, ';' or ',' delimited, one line per row."""
    head = path.read_bytes()[:65536]
    if not head:
        raise UnreadableFile(f"The file {path.name} is empty.")
    try:
        head.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "cp1251"
    first = head.split(b"\n", 1)[0]
    delimiter = ";" if first.count(b";") >= first.count(b",") else ","
    header = next(csv.reader([first.decode(encoding).lstrip("\ufeff").rstrip("\r")], delimiter=delimiter))
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=encoding),
                           parse_options=pacsv.ParseOptions(delimiter=delimiter),
                           convert_options=pacsv.ConvertOptions(strings_can_be_null=True, null_values=[""],
                                                                column_types=dict.fromkeys(header, pa.string())))
    table = pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})
    rows = pa.array(range(2, table.num_rows + 2), pa.uint32())
    return Source(table.combine_chunks(), rows, encoding, delimiter, [])
