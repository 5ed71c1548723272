"""Export files read back by independent readers: openpyxl, fastexcel, and (below) LibreOffice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import fastexcel
import openpyxl
import pyarrow as pa
import pytest

from analytics import Database
from analytics.exports import SHEET_ROWS, export, export_name
from analytics.exports.csvfile import BOM

from .test_sql_binding import HOSTILE

RISKY = ["=1+2", "+7 999", "-5", "@SUM(A1)", "\tTab", "\rCR", "=HYPERLINK(\"http://x\")"]


def sample() -> pa.Table:
    return pa.table({
        "card_number": ["0012345678901234567", "4600000000000001", "9999999999999999999"],
        "user_id": pa.array([1, 2**60, 3], pa.uint64()),
        "added_at": pa.array([dt.datetime(2026, 1, 2, 3, 4, 5), None, dt.datetime(1999, 12, 31, 23, 59, 59)],
                             pa.timestamp("s")),
        "day": pa.array([dt.date(2026, 11, 15)] * 3),
        "name": ["Ёлки «ёлочки» & <b>", "O'Stin", "🙂"],
        "amount": [1.5, None, float("nan")],
    })


def test_xlsx_keeps_text_text_and_dates_dates(tmp_path: Path) -> None:
    result = export([sample()], tmp_path, "cards", {"partner": 3})
    sheet = openpyxl.load_workbook(result.path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("card_number", "user_id", "added_at", "day", "name", "amount")
    assert [row[0] for row in rows[1:]] == ["0012345678901234567", "4600000000000001", "9999999999999999999"]
    assert [row[1] for row in rows[1:]] == [1, str(2**60), 3]  # beyond 15 digits: text, exact
    assert rows[1][2] == dt.datetime(2026, 1, 2, 3, 4, 5) and rows[2][2] is None
    assert rows[1][3] == dt.datetime(2026, 11, 15)
    assert sheet["D2"].number_format == "dd.mm.yyyy" and sheet["C2"].number_format == "dd.mm.yyyy hh:mm:ss"
    assert [row[4] for row in rows[1:]] == ["Ёлки «ёлочки» & <b>", "O'Stin", "🙂"]
    assert [row[5] for row in rows[1:]] == [1.5, None, None]
    assert sheet["A1"].font.bold and sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:F4"
    assert sheet.column_dimensions["A"].width >= 19


@pytest.mark.parametrize("value", RISKY + HOSTILE[:6])
def test_xlsx_text_is_never_a_formula(tmp_path: Path, value: str) -> None:
    result = export([pa.table({"text": [value]})], tmp_path, "risky", {})
    cell = openpyxl.load_workbook(result.path)["Data"]["A2"]
    assert cell.data_type == "s"
    expected = value.replace("\0", "").replace("\b", "").replace("\a", "").replace("\v", "").replace("\f", "")
    assert cell.value == expected  # XML cannot carry control characters other than tab, CR, LF


def test_csv_opens_in_excel_and_runs_no_formula(tmp_path: Path) -> None:
    table = pa.table({"text": RISKY + ["Ёлки"], "n": list(range(len(RISKY) + 1))})
    result = export([table], tmp_path, "risky", {}, file_format="csv", delimiter=";")
    raw = result.path.read_bytes()
    assert raw.startswith(BOM)
    lines = raw[len(BOM):].decode().split("\n")
    assert lines[0] == '"text";"n"'
    assert lines[1] == "\"'=1+2\";0" and lines[3] == "\"'-5\";2" and lines[8] == '"Ёлки";7'


def test_export_to_two_sheets_keeps_every_row(tmp_path: Path) -> None:
    rows = 1_100_000
    chunk = 65_536
    numbers = pa.array([f"{i:019d}" for i in range(rows)])

    def chunks() -> Iterator[pa.Table]:
        for start in range(0, rows, chunk):
            yield pa.table({"card_number": numbers.slice(start, chunk), "row": pa.array(range(start, min(start + chunk, rows)))})

    result = export(chunks(), tmp_path, "big", {})
    assert (result.rows, result.sheets) == (rows, 2) and "2 sheets" in result.note
    reader = fastexcel.read_excel(result.path)
    assert reader.sheet_names == ["Data", "Data (2)"]
    first = reader.load_sheet(0, dtypes={"card_number": "string"}).to_arrow()
    second = reader.load_sheet(1, dtypes={"card_number": "string"}).to_arrow()
    assert first.num_rows == SHEET_ROWS - 1 and first.num_rows + second.num_rows == rows
    assert first.column("card_number")[0].as_py() == "0" * 19
    assert second.column("card_number")[-1].as_py() == f"{rows - 1:019d}"


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    def broken() -> Iterator[pa.Table]:
        yield sample()
        raise RuntimeError("the database went away")

    for file_format in ("xlsx", "csv"):
        with pytest.raises(RuntimeError):
            export(broken(), tmp_path, "broken", {}, file_format=file_format)
    assert list(tmp_path.iterdir()) == []


def test_file_names_carry_report_and_parameters_and_are_unguessable() -> None:
    first = export_name("plastic_cards", {"partner": "«Лента»", "start": dt.date(2026, 11, 1)}, "xlsx")
    second = export_name("plastic_cards", {"partner": "«Лента»", "start": dt.date(2026, 11, 1)}, "xlsx")
    assert first.startswith("plastic_cards_Лента_2026-11-01_") and first.endswith(".xlsx")
    assert first != second and "/" not in first and ".." not in first


def test_database_values_survive_the_xlsx(db: Database, tmp_path: Path) -> None:
    sql = "SELECT card_id, card_number, barcode, added_at, deleted_at FROM cards ORDER BY card_id LIMIT 5000"
    result = export(db.iter_chunks(sql), tmp_path, "cards", {})
    expected = db.query(sql)
    book = openpyxl.load_workbook(result.path, read_only=True)
    rows = list(book.active.iter_rows(min_row=2, values_only=True))
    book.close()
    assert [row[1] for row in rows] == expected.card_number.tolist()
    assert [row[2] for row in rows] == expected.barcode.tolist()
    assert [row[3] for row in rows] == [value.to_pydatetime() for value in expected.added_at]
    assert sum(row[4] is None for row in rows) == expected.deleted_at.isna().sum()


def test_prefetch_passes_items_errors_and_stops_its_source() -> None:
    from analytics.exports.prefetch import prefetched

    assert list(prefetched(iter(range(100)), depth=2)) == list(range(100))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("source broke")

    with pytest.raises(ValueError, match="source broke"):
        list(prefetched(failing()))
    closed = []

    def endless() -> Iterator[int]:
        try:
            number = 0
            while True:
                number += 1
                yield number
        finally:
            closed.append(True)

    stream = prefetched(endless(), depth=2)
    assert next(stream) == 1
    stream.close()
    assert closed == [True]


@pytest.mark.parametrize(("rows", "chunk", "sheet_rows"), [(350, 70, 100), (1000, 7, 100), (99, 99, 100), (405, 200, 100)])
def test_every_row_reaches_the_workbook_however_many_sheets_it_takes(tmp_path: Path, rows: int, chunk: int,
                                                                    sheet_rows: int) -> None:
    """Three sheets and more (a 3.46M-row export takes four): each starts where the last stopped, none is lost."""
    def chunks() -> Iterator[pa.Table]:
        for start in range(0, rows, chunk):
            yield pa.table({"row": pa.array(range(start, min(start + chunk, rows)))})

    result = export(chunks(), tmp_path, "many", {}, sheet_rows=sheet_rows)
    reader = fastexcel.read_excel(result.path)
    written = [value for name in reader.sheet_names for value in reader.load_sheet(name).to_arrow().column("row").to_pylist()]
    assert written == list(range(rows)) and result.rows == rows
    assert result.sheets == len(reader.sheet_names) == -(-rows // (sheet_rows - 1))
