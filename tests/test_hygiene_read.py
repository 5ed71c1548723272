"""Reading uploaded contact lists: encodings, delimiters, workbooks, and the hostile files, each a sentence or a row."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from analytics.errors import AnalyticsError
from analytics.hygiene.read import Source, UnreadableFile, read_source

ROWS = "Имя,Телефон,ИНН\nИван Петров,8 (912) 345-67-89,7707083893\nООО «Ромашка»,8-495-123-45-67,500100732259\n"
EXPECTED = [
    {"Имя": "Иван Петров", "Телефон": "8 (912) 345-67-89", "ИНН": "7707083893"},
    {"Имя": "ООО «Ромашка»", "Телефон": "8-495-123-45-67", "ИНН": "500100732259"},
]


def _write(tmp_path: Path, data: bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read(tmp_path: Path, data: bytes, name: str = "list.csv", **options: int) -> Source:
    return read_source(_write(tmp_path, data, name), **options)


def _refusal(tmp_path: Path, data: bytes, name: str = "list.csv") -> str:
    with pytest.raises(UnreadableFile) as caught:
        _read(tmp_path, data, name)
    assert isinstance(caught.value, AnalyticsError)
    return str(caught.value)


@pytest.mark.parametrize(("data", "encoding"), [
    (ROWS.encode("utf-8"), "UTF-8"),
    (b"\xef\xbb\xbf" + ROWS.encode("utf-8"), "UTF-8 with BOM"),
    (ROWS.encode("cp1251"), "Windows-1251"),
    (ROWS.replace("\n", "\r\n").encode("cp1251"), "Windows-1251"),
    (ROWS.encode("utf-16"), "UTF-16"),
])
def test_encodings(tmp_path: Path, data: bytes, encoding: str) -> None:
    source = _read(tmp_path, data)
    assert source.encoding == encoding
    assert source.delimiter == ","
    assert source.table.to_pylist() == EXPECTED
    assert source.rows.type == pa.uint32()
    assert source.rows.to_pylist() == [2, 3]
    assert source.unreadable == []


def test_a_file_glued_from_utf8_and_windows_1251_reads_line_by_line(tmp_path: Path) -> None:
    lines = ROWS.splitlines(keepends=True)
    data = (lines[0] + lines[1]).encode("utf-8") + lines[2].encode("cp1251")
    source = _read(tmp_path, data)
    assert source.encoding == "mixed (UTF-8 and Windows-1251)"
    assert source.table.to_pylist() == EXPECTED


def test_only_ascii_and_windows_1251_is_not_called_mixed(tmp_path: Path) -> None:
    data = b"Name,Phone\nIvan,79123456789\n" + "Пётр,79123456780\n".encode("cp1251")
    assert _read(tmp_path, data).encoding == "Windows-1251"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    text = ROWS.replace(",", delimiter)
    source = _read(tmp_path, text.encode("cp1251"), name="list.txt")
    assert source.delimiter == delimiter
    assert source.table.to_pylist() == EXPECTED


def test_a_delimiter_inside_quotes_does_not_mislead_the_sniffer(tmp_path: Path) -> None:
    text = 'Компания;Телефон\n"ООО ""Ромашка"", Москва, Тверская";79123456789\n"ИП Иванов, Казань";84951234567\n'
    source = _read(tmp_path, text.encode("utf-8"))
    assert source.delimiter == ";"
    assert source.table.column("Компания").to_pylist() == ['ООО "Ромашка", Москва, Тверская', "ИП Иванов, Казань"]


def test_quoted_newlines_stay_in_the_cell_and_row_numbers_follow_records(tmp_path: Path) -> None:
    text = 'Имя,Комментарий\nИван,"первая строка\nвторая строка"\n\nПётр,ок\n'
    source = _read(tmp_path, text.encode("utf-8"))
    assert source.table.to_pylist() == [
        {"Имя": "Иван", "Комментарий": "первая строка\nвторая строка"},
        {"Имя": "Пётр", "Комментарий": "ок"},
    ]
    assert source.rows.to_pylist() == [2, 4]  # the blank row 3 is skipped but still counted


def test_a_single_column_file_reads(tmp_path: Path) -> None:
    source = _read(tmp_path, b"Phone\n79123456789\n+7 912 345-67-89\n")
    assert source.table.column_names == ["Phone"]
    assert source.table.num_rows == 2


def test_header_names_are_made_unique_and_blank_ones_named(tmp_path: Path) -> None:
    source = _read(tmp_path, b"Phone, Phone ,,Phone\n1,2,3,4\n")
    assert source.table.column_names == ["Phone", "Phone (2)", "Column 3", "Phone (3)"]


def test_empty_cells_are_null_and_short_rows_are_padded(tmp_path: Path) -> None:
    source = _read(tmp_path, b"a,b,c\n1,,3\n4\n")
    assert source.table.to_pylist() == [{"a": "1", "b": None, "c": "3"}, {"a": "4", "b": None, "c": None}]
    assert source.unreadable == []


def test_every_column_is_a_string(tmp_path: Path) -> None:
    source = _read(tmp_path, b"INN,Phone,Sum\n0277012345,79123456789,1.50\n")
    assert all(field.type == pa.string() for field in source.table.schema)
    assert source.table.to_pylist() == [{"INN": "0277012345", "Phone": "79123456789", "Sum": "1.50"}]


def test_formulas_are_kept_as_text(tmp_path: Path) -> None:
    text = 'Имя,Телефон,Сумма\n"=HYPERLINK(""http://x"",""x"")",+79123456789,@SUM(A1:A2)\n-2+3,=1+1,+7 912\n'
    source = _read(tmp_path, text.encode("utf-8"))
    assert source.table.to_pylist() == [
        {"Имя": '=HYPERLINK("http://x","x")', "Телефон": "+79123456789", "Сумма": "@SUM(A1:A2)"},
        {"Имя": "-2+3", "Телефон": "=1+1", "Сумма": "+7 912"},
    ]


def test_two_hundred_columns(tmp_path: Path) -> None:
    header = ";".join(f"c{i}" for i in range(200))
    row = ";".join(str(i) for i in range(200))
    source = _read(tmp_path, f"{header}\n{row}\n{row}\n".encode())
    assert source.table.num_columns == 200
    assert source.table.num_rows == 2
    assert source.table.column("c199").to_pylist() == ["199", "199"]


def test_a_million_character_cell_makes_its_row_unreadable_not_the_file(tmp_path: Path) -> None:
    text = "Имя,Телефон\nИван,79123456789\n" + "Пётр," + "9" * 1_000_000 + "\nАнна,79123456780\n"
    source = _read(tmp_path, text.encode("utf-8"))
    assert source.table.column("Имя").to_pylist() == ["Иван", "Анна"]
    assert source.rows.to_pylist() == [2, 4]
    [(number, original, reason)] = source.unreadable
    assert number == 3
    assert reason == "cell longer than 10,000 characters"
    assert original.startswith("Пётр,999")
    assert len(original) == 200


def test_max_cell_is_a_setting(tmp_path: Path) -> None:
    source = _read(tmp_path, b"a,b\nshort,0123456789ABC\n", max_cell=10)
    assert source.table.num_rows == 0
    assert source.unreadable == [(2, "short,0123456789ABC", "cell longer than 10 characters")]


def test_a_row_with_more_cells_than_the_header_is_unreadable(tmp_path: Path) -> None:
    text = "a,b,c\n1,2,3\n" + ",".join(["x"] * 58) + "\n4,5,6,,\n"
    source = _read(tmp_path, text.encode())
    assert source.table.column("a").to_pylist() == ["1", "4"]  # trailing empty cells are not extra cells
    assert source.rows.to_pylist() == [2, 4]
    [(number, original, reason)] = source.unreadable
    assert (number, reason) == (3, "58 cells where the header has 3")
    assert original.startswith("x,x,x")


def test_a_binary_file_renamed_csv_is_refused(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    message = _refusal(tmp_path, data)
    assert message.startswith("This file is not a table (CSV or XLSX)")
    assert "binary data" in message


def test_a_png_renamed_csv_is_refused(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x01" * 100
    assert "binary data" in _refusal(tmp_path, data)


@pytest.mark.parametrize("data", [b"", b"\n\n  \r\n"])
def test_an_empty_file_is_refused(tmp_path: Path, data: bytes) -> None:
    assert _refusal(tmp_path, data).startswith("The file is empty")


def test_a_file_of_empty_cells_is_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path, b",,,\n , ,\n").startswith("The file is empty")


@pytest.mark.parametrize("data", [b"Name,Phone\n", b"Name,Phone", b"Name,Phone\n,\n\n"])
def test_a_header_without_rows_is_refused(tmp_path: Path, data: bytes) -> None:
    assert _refusal(tmp_path, data) == "The file has a header but no rows."


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="was not found"):
        read_source(tmp_path / "gone.csv")


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "list.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "hello")
    message = _refusal(tmp_path, archive.read_bytes(), name="list.xlsx")
    assert message.startswith("This file is not a table (CSV or XLSX)")


def _workbook(tmp_path: Path, rows: list[list[object]], name: str = "list.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.create_sheet("second").append(["not", "read"])
    path = tmp_path / name
    book.save(path)
    return path


def test_xlsx_numbers_stay_digits_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    path = _workbook(tmp_path, [
        ["Имя", "Телефон", "ИНН", None],
        ["Иван", 79123456789, 7707083893, "x"],
        [],
        ["Пётр", "+7 912 345-67-89", "500100732259", 1.5],
    ], name="renamed.csv")  # told by content, not by name
    source = read_source(path)
    assert (source.encoding, source.delimiter) == ("XLSX", "")
    assert source.table.column_names == ["Имя", "Телефон", "ИНН", "Column 4"]
    assert all(field.type == pa.string() for field in source.table.schema)
    assert source.table.to_pylist() == [
        {"Имя": "Иван", "Телефон": "79123456789", "ИНН": "7707083893", "Column 4": "x"},
        {"Имя": "Пётр", "Телефон": "+7 912 345-67-89", "ИНН": "500100732259", "Column 4": "1.5"},
    ]
    assert source.rows.to_pylist() == [2, 4]
    assert source.unreadable == []


def test_xlsx_starting_lower_down_keeps_excel_row_numbers(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B3"], sheet["C3"] = "Phone", "Name"
    sheet["B4"], sheet["C4"] = 79123456789, "Иван"
    path = tmp_path / "list.xlsx"
    book.save(path)
    source = read_source(path)
    assert source.table.to_pylist() == [{"Phone": "79123456789", "Name": "Иван"}]
    assert source.rows.to_pylist() == [4]


def test_xlsx_long_cells_and_formula_text(tmp_path: Path) -> None:
    path = _workbook(tmp_path, [["Имя", "Заметка"], ["Иван", "x" * 20_000], ["Пётр", "'=HYPERLINK(1)"]])
    source = read_source(path)
    assert source.table.to_pylist() == [{"Имя": "Пётр", "Заметка": "'=HYPERLINK(1)"}]
    [(number, original, reason)] = source.unreadable
    assert (number, reason) == (2, "cell longer than 10,000 characters")
    assert original.startswith("Иван\txxx") and len(original) == 200


def test_xlsx_with_a_header_only_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="header but no rows"):
        read_source(_workbook(tmp_path, [["Имя", "Телефон"]]))


def test_an_empty_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(UnreadableFile, match="empty"):
        read_source(path)


def test_two_hundred_xlsx_columns(tmp_path: Path) -> None:
    path = _workbook(tmp_path, [[f"c{i}" for i in range(200)], list(range(200))])
    source = read_source(path)
    assert source.table.num_columns == 200
    assert source.table.column("c199").to_pylist() == ["199"]


def test_rows_of_blank_cells_are_skipped_but_counted(tmp_path: Path) -> None:
    source = _read(tmp_path, b"a,b\n , \n,\n1,2\n")
    assert source.table.to_pylist() == [{"a": "1", "b": "2"}]
    assert source.rows.to_pylist() == [4]


@pytest.mark.parametrize(("codec", "encoding"), [("koi8_r", "KOI8-R"), ("cp866", "DOS (CP866)")])
def test_legacy_cyrillic_code_pages_are_recognised(tmp_path: Path, codec: str, encoding: str) -> None:
    text = ROWS.replace("«", '"').replace("»", '"') * 20
    source = _read(tmp_path, text.encode(codec))
    assert source.encoding == encoding
    assert source.table.column("Имя").to_pylist()[:2] == ["Иван Петров", 'ООО "Ромашка"']


def test_a_quote_never_closed_rejects_its_row_and_keeps_the_rows_after_it(tmp_path: Path) -> None:
    source = _read(tmp_path, b'a,b\n1,"oops\n2,3\n4,5\n')
    assert source.table.to_pylist() == [{"a": "2", "b": "3"}, {"a": "4", "b": "5"}]
    assert source.rows.to_pylist() == [3, 4]
    assert source.unreadable == [(2, '1,"oops', "a quote is opened and never closed")]


def test_quotes_in_the_wrong_place_reject_their_row(tmp_path: Path) -> None:
    source = _read(tmp_path, b'a,b\n1,x"y"z\n2,"q"r\n3,4\n')
    assert source.table.to_pylist() == [{"a": "1", "b": 'x"y"z'}, {"a": "3", "b": "4"}]
    assert source.unreadable == [(3, '2,"q"r', "quotes in the wrong place")]


def test_a_broken_header_is_refused(tmp_path: Path) -> None:
    assert _refusal(tmp_path, b'"a,b\n1,2\n').startswith("The first row (the header) cannot be read")
