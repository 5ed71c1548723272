"""An uploaded contact list (CSV or XLSX) as string columns, each row with the number the person sees.

The kind of file is told from its bytes, not its name (a workbook is a zip starting with ``PK``). For a
CSV the encoding is found line by line (UTF-8, else Windows-1251, so a file glued together from two
exports still reads; KOI8-R and DOS 866 when charset-normalizer is sure), the delimiter is sniffed among
``, ; TAB |`` on the first lines, and the lines are streamed through the csv module in strict mode. Every
cell stays a string: an INN or a phone must never become ``7.707083893E9``. A record that cannot become a
row (a giant cell, more cells than the header, a quote never closed) goes to ``Source.unreadable`` with
its reason; a file that is not a table at all raises ``UnreadableFile`` with one sentence a manager can
act on, never a traceback. Blank rows are skipped (they are no contacts) but counted in the row numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import charset_normalizer
import pyarrow as pa
import pyarrow.compute as pc

from analytics.errors import AnalyticsError

__all__ = ["Source", "UnreadableFile", "read_source"]

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 64 * 1024
_BATCH_ROWS = 65_536
_SHOWN_CHARS = 200
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_TEXT_CONTROLS = {9, 10, 12, 13, 26}  # tab, newlines, form feed, the DOS end-of-file mark


class UnreadableFile(AnalyticsError):
    """The uploaded file cannot be read as a table; the message says what it looks like instead."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(message)


@dataclass(frozen=True)
class Source:
    """A file read as a table of strings, with each row's original row number and what could not be read.

    ``rows[i]`` is the row number of ``table`` row ``i`` as Excel or an editor shows it (header = row 1);
    ``unreadable`` lists (row number, original text cut to 200 characters, reason in plain words).
    """

    table: pa.Table
    rows: pa.Array
    encoding: str
    delimiter: str
    unreadable: list[tuple[int, str, str]] = field(default_factory=list)


def read_source(path: Path, *, max_cell: int = 10_000) -> Source:
    """Read a CSV or XLSX contact list; cells longer than ``max_cell`` characters make their row unreadable.

    A header without any data row raises ``UnreadableFile`` ("The file has a header but no rows."): an
    empty list is almost always the wrong file, and saying so beats three empty result files.
    """
    path = Path(path)
    data = _read_bytes(path)
    if data.startswith(_XLSX_MAGIC) or data.startswith(_XLS_MAGIC):
        return _read_workbook(path, data, max_cell)
    _refuse_binary(data, path)
    text = _Text.of(data)
    delimiter = _sniff_delimiter(text)
    return _read_csv(text, delimiter, max_cell, path)


def header_of(path: Path) -> list[str]:
    """The column names of a CSV or XLSX as :func:`read_source` names them, from the file's first part only: what
    the form offers for the column mapping right after an upload, without reading a 100 MB list twice."""
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(_SNIFF_BYTES)
    if not data.strip():
        return []
    if data.startswith(_XLSX_MAGIC) or data.startswith(_XLS_MAGIC):
        sheet = _first_sheet(path, path.read_bytes())
        table = pa.Table.from_batches([sheet])
        positions = pc.indices_nonzero(_filled_rows(table))
        if len(positions) == 0:
            return []
        return _unique_names([cell or "" for cell in table.slice(positions[0].as_py(), 1).to_pylist()[0].values()])
    try:
        _refuse_binary(data, path)
    except UnreadableFile:
        return []
    text = _Text.of(data.rsplit(b"\n", 1)[0] if b"\n" in data else data)  # whole lines only
    rows = [row for row in _sample_rows(text.head()[0], _sniff_delimiter(text)) if any(cell.strip() for cell in row)]
    return _unique_names(rows[0]) if rows else []


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, or a plain sentence when it is missing, a folder or empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile(f"The file {path.name} was not found; upload it again.", path=path) from None
    except IsADirectoryError:
        raise UnreadableFile(f"{path.name} is a folder, not a file; choose a CSV or XLSX file.", path=path) from None
    except OSError as error:
        raise UnreadableFile(f"The file {path.name} cannot be opened ({error.strerror}).", path=path) from None
    if not data or data.isspace():  # isspace stops at the first letter; strip() would copy the file
        raise UnreadableFile("The file is empty: there is nothing to clean.", path=path)
    return data


def _refuse_binary(data: bytes, path: Path) -> None:
    """Raise when the first bytes are not text: NUL bytes or many control characters mean a binary file."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    sample = data[:_SNIFF_BYTES]
    controls = sum(1 for byte in sample if byte < 32 and byte not in _TEXT_CONTROLS)
    if b"\x00" in sample or controls > len(sample) // 100:
        raise UnreadableFile("This file is not a table (CSV or XLSX): it looks like binary data. "
                             "Save the list from Excel as .xlsx or .csv and upload that.", path=path)


@dataclass(frozen=True)
class _Text:
    """A CSV's bytes with the encoding found for them, read lazily as lines so a big file is never one string.

    (A whole-file ``str`` of Cyrillic text takes twice the file, an ``io.StringIO`` of it four times.)
    """

    body: bytes
    codec: str  # "utf-8", "cp1251", "koi8_r", "cp866", "utf-16-le", "utf-16-be", or "mixed"
    encoding: str

    @classmethod
    def of(cls, data: bytes) -> _Text:
        """UTF-8 (with or without BOM), UTF-16 with its BOM, Windows-1251 (or KOI8-R, DOS), or UTF-8 mixed with 1251.

        A mixed file (two exports pasted together) is decoded line by line: each line as UTF-8 if it is
        valid UTF-8, else as Windows-1251. UTF-8 is always tried first because Windows-1251 decodes almost
        any byte, while a Cyrillic Windows-1251 line is practically never valid UTF-8.
        """
        for bom, codec, name in ((codecs.BOM_UTF8, "utf-8", "UTF-8 with BOM"),
                                 (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
                                 (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16")):
            if data.startswith(bom):
                body = data[len(bom):]
                if codec != "utf-8" or _is_utf8(body):
                    return cls(body, codec, name)
                break
        else:
            body, name = data, "UTF-8"
            if _is_utf8(body):
                return cls(body, "utf-8", name)
        if any(not line.isascii() and _is_utf8(line) for line in io.BytesIO(body)):
            return cls(body, "mixed", "mixed (UTF-8 and Windows-1251)")
        codec, name = _single_byte_cyrillic(body)
        return cls(body, codec, name)

    def lines(self) -> Iterator[str]:
        """The text line by line, line endings kept (what the csv module wants)."""
        if self.codec == "mixed":
            return (_mixed_line(line) for line in io.BytesIO(self.body))
        return io.TextIOWrapper(io.BytesIO(self.body), encoding=self.codec, errors="replace", newline="")

    def head(self) -> tuple[str, bool]:
        """The first lines (about 64 KiB) as one string, and whether the file goes on after them."""
        taken: list[str] = []
        size = 0
        for line in self.lines():
            if size >= _SNIFF_BYTES:
                return "".join(taken), True
            taken.append(line)
            size += len(line)
        return "".join(taken), False


def _single_byte_cyrillic(body: bytes) -> tuple[str, str]:
    """(codec, name) for a file that is not UTF-8: Windows-1251 unless charset-normalizer is sure of KOI8-R or DOS.

    Windows-1251 is what Excel and 1C write in Russia; the old KOI8-R and DOS (866) code pages still come
    out of legacy systems, and read as 1251 they would be silent gibberish. Only those two may override
    1251, because charset-normalizer's guess on a short Cyrillic sample can be anything.
    """
    guess = charset_normalizer.from_bytes(body[:_SNIFF_BYTES]).best()
    encoding = guess.encoding if guess else ""
    if encoding == "koi8_r":
        return "koi8_r", "KOI8-R"
    if encoding in ("cp866", "cp1125"):
        return "cp866", "DOS (CP866)"
    return "cp1251", "Windows-1251"


def _mixed_line(line: bytes) -> str:
    """One line of a mixed file: UTF-8 when it is valid UTF-8, else Windows-1251."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1251", errors="replace")


def _is_utf8(data: bytes) -> bool:
    """Whether the bytes are valid UTF-8, checked in 1 MiB pieces so no copy of a big file is made."""
    if len(data) <= 1 << 20:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), 1 << 20):
            decoder.decode(view[start:start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_delimiter(text: _Text) -> str:
    """The delimiter among , ; TAB | that splits the first lines into the most consistent, widest rows.

    Parsed with the csv module for each candidate, so quoted delimiters and quoted newlines do not
    mislead; a file of one column (just phones) gets ",".
    """
    sample, cut = text.head()
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        widths = [len(row) for row in _sample_rows(sample, delimiter) if any(cell.strip() for cell in row)]
        if cut and len(widths) > 1:
            widths = widths[:-1]
        if not widths or widths[0] < 2:
            continue
        score = (sum(1 for width in widths if width == widths[0]), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _sample_rows(sample: str, delimiter: str) -> list[list[str]]:
    """The first (up to 50) records of the sample split with ``delimiter``; a parse error ends the sample."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            rows.append(row)
            if len(rows) >= 50:
                break
    except csv.Error:
        pass
    return rows


def _read_csv(text: _Text, delimiter: str, max_cell: int, path: Path) -> Source:
    """Parse the lines into a ``Source``: header from the first non-empty record, rows in batches."""
    limit = csv.field_size_limit()
    # The csv module refuses fields over 128 KiB with an error it cannot recover from; a giant cell must
    # reject its row, not the file, so the limit is lifted while this file is parsed and checked by us.
    csv.field_size_limit(max(limit, len(text.body) + 1))
    try:
        return _collect(_records(text.lines(), delimiter), text.encoding, delimiter, max_cell, path)
    finally:
        csv.field_size_limit(limit)


class _Lines:
    """The lines fed to the csv reader, remembering those of the current record and taking lines back."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.source = lines
        self.returned: deque[str] = deque()
        self.record: list[str] = []
        self.exhausted = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.returned:
            line = self.returned.popleft()
        else:
            try:
                line = next(self.source)
            except StopIteration:
                self.exhausted = True
                raise
        self.record.append(line)
        return line


def _records(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list[str], str]]:
    """Numbered records (row number, cells, "" or why the record is broken), in strict csv mode.

    Lenient csv parsing hides damage: a quote opened and never closed silently swallows every later row
    into one cell. Strictly parsed, such a record is reported with its original text, and when it ran to
    the end of the file its later lines are parsed again as rows of their own.
    """
    feed = _Lines(lines)
    number = 0
    while True:
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        try:
            for cells in reader:
                number += 1
                yield number, cells, ""
                feed.record = []
            return
        except csv.Error:
            number += 1
            broken, feed.record = feed.record, []
            if feed.exhausted and len(broken) > 1:
                feed.returned.extend(broken[1:])
                feed.exhausted = False
                yield number, [broken[0].rstrip("\r\n")], "a quote is opened and never closed"
            else:
                yield number, ["".join(broken).rstrip("\r\n")], "quotes in the wrong place"


def _collect(records: Iterator[tuple[int, list[str], str]], encoding: str, delimiter: str, max_cell: int,
             path: Path) -> Source:
    """Header, batches of good rows and the unreadable ones, from numbered records."""
    header_cells = _first_filled(records, path)
    if any(len(cell) > max_cell for cell in header_cells):
        raise UnreadableFile(f"The first row (the header) has a cell longer than {max_cell:,} characters; "
                             "it is not a list of contacts.", path=path)
    names = _unique_names(header_cells)
    width = len(names)
    batch = _Batch(width)
    batches: list[pa.RecordBatch] = []
    unreadable: list[tuple[int, str, str]] = []
    for number, cells, broken in records:
        reason = broken or _row_problem(cells, width, max_cell)
        if reason is None:
            if batch.add(number, cells):
                batches.append(batch.flush(names))
        elif reason:
            unreadable.append((number, _shown(cells, delimiter), reason))
    batches.append(batch.flush(names))
    return _finish(batches, names, encoding, delimiter, unreadable, path)


def _first_filled(records: Iterator[tuple[int, list[str], str]], path: Path) -> list[str]:
    """The cells of the first record with any non-blank cell: the header."""
    for _number, cells, broken in records:
        if broken:
            raise UnreadableFile(f"The first row (the header) cannot be read: {broken}. Fix it in Excel or an "
                                 "editor and upload the file again.", path=path)
        if any(cell.strip() for cell in cells):
            return cells
    raise UnreadableFile("The file is empty: it has no cells with text.", path=path)


def _row_problem(cells: list[str], width: int, max_cell: int) -> str | None:
    """Why a record cannot be a row (plain words), "" for a blank row to skip, None when fine.

    A blank row (no cells, or only spaces) is no contact, so it is in none of the three result files;
    its number is still counted, as Excel would.
    """
    if not any(cells) or not "".join(cells).strip():
        return ""
    if max(map(len, cells)) > max_cell:
        return f"cell longer than {max_cell:,} characters"
    if len(cells) > width and any(cells[width:]):
        return f"{len(cells)} cells where the header has {width}"
    return None


def _shown(cells: list[str], delimiter: str) -> str:
    """The record as the person would recognise it, cut to 200 characters."""
    text = ""
    for cell in cells:
        text = f"{text}{delimiter}{cell[:_SHOWN_CHARS]}" if text else cell[:_SHOWN_CHARS]
        if len(text) >= _SHOWN_CHARS:
            break
    return text[:_SHOWN_CHARS]


def _unique_names(cells: list[str]) -> list[str]:
    """Header names as in the file, trimmed; blank -> "Column 3"; repeats -> "Phone (2)"."""
    names: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, start=1):
        base = " ".join(cell.split()) or f"Column {position}"
        name, copy = base, 1
        while name in seen:
            copy += 1
            name = f"{base} ({copy})"
        seen.add(name)
        names.append(name)
    return names


class _Batch:
    """Rows gathered column by column until a batch is full, so memory is one batch of Python strings."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.columns: list[list[str | None]] = [[] for _ in range(width)]
        self.numbers: list[int] = []

    def add(self, number: int, cells: list[str]) -> bool:
        """Append one row (short rows padded with nulls, empty cells null); True when the batch is full."""
        self.numbers.append(number)
        for position, column in enumerate(self.columns):
            cell = cells[position] if position < len(cells) else ""
            column.append(cell or None)
        return len(self.numbers) >= _BATCH_ROWS

    def flush(self, names: list[str]) -> pa.RecordBatch:
        """The gathered rows as a record batch (with the row numbers last), and an empty batch after."""
        arrays = [pa.array(column, pa.string()) for column in self.columns]
        arrays.append(pa.array(self.numbers, pa.uint32()))
        batch = pa.RecordBatch.from_arrays(arrays, names=[*names, "\x00row"])
        self.columns = [[] for _ in range(self.width)]
        self.numbers = []
        return batch


def _finish(batches: list[pa.RecordBatch], names: list[str], encoding: str, delimiter: str,
            unreadable: list[tuple[int, str, str]], path: Path) -> Source:
    """Join the batches into the ``Source``; a header with no rows at all is refused in one sentence.

    The table stays in its 64 Ki-row chunks (no second copy of a big file); ``rows`` is one array.
    """
    combined = pa.Table.from_batches(batches)
    if combined.num_rows == 0 and not unreadable:
        raise UnreadableFile("The file has a header but no rows.", path=path)
    rows = combined.column(len(names)).combine_chunks()
    table = pa.Table.from_arrays(combined.columns[:len(names)], names=names)
    return Source(table=table, rows=rows, encoding=encoding, delimiter=delimiter, unreadable=unreadable)


def _read_workbook(path: Path, data: bytes, max_cell: int) -> Source:
    """The first sheet of an XLSX (or old XLS) via fastexcel, every cell a string (integers without ".0").

    Kept in Arrow throughout: only the header and the few unreadable rows become Python values. A
    workbook has no delimiter to get wrong, so a value right of the last header cell is kept in a column
    of its own ("Column 7") rather than rejected.
    """
    sheet = _first_sheet(path, data)
    if sheet.num_columns == 0:
        raise UnreadableFile("The workbook's first sheet is empty.", path=path)
    table = pa.Table.from_batches([sheet])
    filled = _filled_rows(table)
    positions = pc.indices_nonzero(filled)
    if len(positions) == 0:
        raise UnreadableFile("The workbook's first sheet is empty.", path=path)
    header_at = positions[0].as_py()
    names = _unique_names([cell or "" for cell in table.slice(header_at, 1).to_pylist()[0].values()])
    body = table.take(positions[1:]).rename_columns(names)
    numbers = pc.cast(pc.add(positions[1:], 1), pa.uint32())  # a 0-based sheet index is Excel's row number - 1
    too_long = _long_cells(body, max_cell)
    unreadable = [(number, _shown([cell or "" for cell in row.values()], "\t"), f"cell longer than {max_cell:,} characters")
                  for number, row in zip(numbers.filter(too_long).to_pylist(), body.filter(too_long).to_pylist(),
                                         strict=True)]
    keep = pc.invert(too_long)
    table, rows = body.filter(keep).combine_chunks(), numbers.filter(keep)
    if table.num_rows == 0 and not unreadable:
        raise UnreadableFile("The file has a header but no rows.", path=path)
    return Source(table=table, rows=rows, encoding="XLSX", delimiter="", unreadable=unreadable)


def _first_sheet(path: Path, data: bytes) -> pa.RecordBatch:
    """The first sheet as one record batch of strings, or a plain sentence for a zip that is no workbook."""
    import fastexcel  # a compiled reader, loaded only when a workbook is uploaded

    try:
        return fastexcel.read_excel(data).load_sheet(0, header_row=None, skip_rows=0, dtypes="string").to_arrow()
    except Exception as error:  # noqa: BLE001 - fastexcel raises its own zoo; every one means "not a workbook"
        raise UnreadableFile("This file is not a table (CSV or XLSX): it looks like a zip archive, a damaged "
                             "workbook or one protected by a password. Open it in Excel, save it as .xlsx "
                             "without a password and upload it again.", path=path) from error


def _filled_rows(table: pa.Table) -> pa.ChunkedArray:
    """True for rows with at least one cell that is not blank."""
    filled = None
    for column in table.columns:
        cell = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(column), ""), False)
        filled = cell if filled is None else pc.or_(filled, cell)
    return filled


def _long_cells(table: pa.Table, max_cell: int) -> pa.Array:
    """True for rows with a cell longer than ``max_cell`` characters."""
    mask = None
    for column in table.columns:
        cell = pc.fill_null(pc.greater(pc.utf8_length(column), max_cell), False)
        mask = cell if mask is None else pc.or_(mask, cell)
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
