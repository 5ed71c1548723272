"""A streaming XLSX writer that builds sheet XML a column at a time with Arrow compute.

Why our own: at 1M rows x 12 columns the mature pure-Python writers take 1.5 to 3 minutes
(XlsxWriter constant_memory ~90 s, openpyxl write-only ~166 s) because they touch every
cell from Python. Here a chunk of rows becomes XML with a handful of vectorized string
operations per column and goes straight into the zip stream, so memory stays flat.

What the file guarantees (and the tests read back with openpyxl, fastexcel and LibreOffice):
* text is written as inline strings, so it is never run as a formula and card numbers,
  barcodes and IDs with leading zeros stay text; whole numbers beyond 15 digits are text too;
* dates and timestamps are real Excel dates with a readable format;
* a bold, frozen header with filters, and column widths from the first rows;
* more rows than a sheet holds continue on the next sheet, each with the header;
* several tables (an A/B summary, its metrics, the users behind them) can share one workbook,
  each on its own sheets (:func:`write_workbook`).
"""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .cells import EXCEL_EXACT_DIGITS, is_text, xml_escape
from .prefetch import prefetched

SHEET_ROWS = 1_048_576  # Excel's limit, header included
_BLOCK_ROWS = 50_000
_EXCEL_EPOCH_DAYS = 25_569  # 1970-01-01 as an Excel serial day
_DATE_STYLE, _DATETIME_STYLE, _HEADER_STYLE = 1, 2, 3
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


@dataclass
class SheetPlan:
    columns: list[str]
    letters: list[str]
    headers: list[str]
    widths: list[float]
    sheets: list[tuple[str, int]] = field(default_factory=list)  # (name, data rows)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


@dataclass(frozen=True)
class SheetSource:
    """One table of a workbook: its rows, its sheet's title and its column labels."""

    chunks: Iterable[pa.Table]
    title: str = "Data"
    headers: Mapping[str, str] = field(default_factory=dict)


def write_xlsx(chunks: Iterable[pa.Table], handle: IO[bytes], *, headers: Mapping[str, str] | None = None,
               sheet_title: str = "Data", sheet_rows: int = SHEET_ROWS) -> tuple[int, int]:
    """Write the rows of ``chunks`` as an XLSX workbook into ``handle``. Returns (rows, sheets)."""
    rows, sheets = write_workbook([SheetSource(chunks, sheet_title, headers or {})], handle, sheet_rows=sheet_rows)
    return rows[0], sheets


def write_workbook(sources: Sequence[SheetSource], handle: IO[bytes], *,
                   sheet_rows: int = SHEET_ROWS) -> tuple[list[int], int]:
    """Write each table on its own sheet(s) of one workbook. Returns (rows per table, sheets in all)."""
    written: list[tuple[str, int, SheetPlan]] = []
    totals = []
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for source in sources:
            stream = _blocks(prefetched(source.chunks))
            first = next(stream, None)
            if first is None:
                raise ValueError("write_xlsx needs at least one (possibly empty) chunk to know the columns")
            plan = _plan(first, source.headers, source.title)
            pending: Iterator[pa.Table] = _prepend(first, stream)
            carry: pa.Table | None = None
            total, more = 0, True
            while more:
                name = source.title if not plan.sheets else f"{source.title} ({len(plan.sheets) + 1})"
                rows, carry, more = _write_sheet(archive, len(written) + 1, plan, pending, carry, sheet_rows - 1)
                plan.sheets.append((name, rows))
                written.append((name, rows, plan))
                total += rows
            totals.append(total)
        _write_package(archive, written)
    return totals, len(written)


def _prepend(first: pa.Table, rest: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """``first``, then the rest: a chain, not a generator, because a sheet that fills up drops it half-read, and a
    generator's ``yield from`` would then close ``rest`` with it, losing every row after the second sheet."""
    return itertools.chain((first,), rest)


def _blocks(chunks: Iterable[pa.Table]) -> Iterator[pa.Table]:
    for chunk in chunks:
        if chunk.num_rows <= _BLOCK_ROWS:
            yield chunk
        else:
            for offset in range(0, chunk.num_rows, _BLOCK_ROWS):
                yield chunk.slice(offset, _BLOCK_ROWS)


def _plan(first: pa.Table, headers: Mapping[str, str], sheet_title: str) -> SheetPlan:
    columns = first.column_names
    labels = [headers.get(name, name) for name in columns]
    widths = []
    for name, label in zip(columns, labels, strict=True):
        kind = first.schema.field(name).type
        if pa.types.is_timestamp(kind):
            width = 20.0
        elif pa.types.is_date(kind):
            width = 12.0
        else:
            sample = pc.utf8_length(pc.cast(first.column(name).slice(0, 1000), pa.string()))
            longest = pc.max(sample).as_py() or 0
            width = float(min(max(longest, len(label)) + 2, 60))
        widths.append(max(width, len(label) + 3.0))
    return SheetPlan(columns, [column_letter(i) for i in range(len(columns))], labels, widths)


def _write_sheet(archive: zipfile.ZipFile, number: int, plan: SheetPlan, chunks: Iterator[pa.Table],
                 carry: pa.Table | None, capacity: int) -> tuple[int, pa.Table | None, bool]:
    """Write one worksheet; returns (data rows, rows left over for the next sheet, whether more follow)."""
    rows = 0
    with archive.open(_entry(f"xl/worksheets/sheet{number}.xml"), "w", force_zip64=True) as sheet:
        sheet.write(_sheet_head(plan).encode())
        sheet.write(_header_row(plan).encode())
        source = _prepend(carry, chunks) if carry is not None else chunks
        for chunk in source:
            room = capacity - rows
            if chunk.num_rows > room:
                if room:
                    sheet.write(_rows_xml(chunk.slice(0, room), plan, first_row=rows + 2))
                    rows += room
                sheet.write(_sheet_tail(plan, rows).encode())
                return rows, chunk.slice(room), True
            if chunk.num_rows:
                sheet.write(_rows_xml(chunk, plan, first_row=rows + 2))
                rows += chunk.num_rows
        sheet.write(_sheet_tail(plan, rows).encode())
    return rows, None, False


def _sheet_head(plan: SheetPlan) -> str:
    cols = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{width:.1f}" customWidth="1"/>'
                   for i, width in enumerate(plan.widths))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f"<worksheet {_NS} {_NS_R}>"
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>')


def _header_row(plan: SheetPlan) -> str:
    cells = "".join(f'<c r="{letter}1" t="inlineStr" s="{_HEADER_STYLE}"><is><t xml:space="preserve">'
                    f"{escape(label)}</t></is></c>" for letter, label in zip(plan.letters, plan.headers, strict=True))
    return f'<row r="1">{cells}</row>'


def _sheet_tail(plan: SheetPlan, rows: int) -> str:
    return f'</sheetData><autoFilter ref="A1:{plan.letters[-1]}{rows + 1}"/></worksheet>'


def _rows_xml(chunk: pa.Table, plan: SheetPlan, first_row: int) -> bytes:
    numbers = pa.array(np.arange(first_row, first_row + chunk.num_rows)).cast(pa.string())
    parts: list[pa.Array] = [pa.array(['<row r="'] * chunk.num_rows), numbers, pa.array(['">'] * chunk.num_rows)]
    for letter, name in zip(plan.letters, plan.columns, strict=True):
        parts.append(_cells(chunk.column(name).combine_chunks(), letter, numbers))
    parts.append(pa.array(["</row>"] * chunk.num_rows))
    rows = pc.binary_join_element_wise(*parts, "")
    return _concatenated(rows)


def _cells(values: pa.Array, letter: str, numbers: pa.Array) -> pa.Array:
    """One column of a block as cell XML; a null becomes an empty cell, so every row has every column."""
    kind = values.type
    ref = pc.binary_join_element_wise(f'<c r="{letter}', numbers, "")
    if pa.types.is_timestamp(kind):
        seconds = pc.cast(pc.cast(values, pa.timestamp("s")), pa.int64())
        serial = pc.add(pc.divide(pc.cast(seconds, pa.float64()), 86_400.0), float(_EXCEL_EPOCH_DAYS))
        cells = pc.binary_join_element_wise(ref, f'" s="{_DATETIME_STYLE}"><v>', pc.cast(serial, pa.string()),
                                            "</v></c>", "")
    elif pa.types.is_date(kind):
        days = pc.add(pc.cast(pc.cast(values, pa.date32()), pa.int32()), _EXCEL_EPOCH_DAYS)
        cells = pc.binary_join_element_wise(ref, f'" s="{_DATE_STYLE}"><v>', pc.cast(days, pa.string()), "</v></c>", "")
    elif pa.types.is_integer(kind):
        limit = pa.scalar(EXCEL_EXACT_DIGITS, pa.uint64() if pa.types.is_unsigned_integer(kind) else pa.int64())
        big = pc.or_(pc.greater_equal(values, limit), pc.less_equal(values, pc.negate(limit))) \
            if pa.types.is_signed_integer(kind) else pc.greater_equal(values, limit)
        text = pc.cast(values, pa.string())
        cells = pc.if_else(big, _text_cells(ref, text), pc.binary_join_element_wise(ref, '"><v>', text, "</v></c>", ""))
    elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        floats = pc.cast(values, pa.float64())
        finite = pc.if_else(pc.is_finite(floats), floats, pa.scalar(None, pa.float64()))
        cells = pc.binary_join_element_wise(ref, '"><v>', pc.cast(finite, pa.string()), "</v></c>", "")
    elif pa.types.is_boolean(kind):
        cells = pc.binary_join_element_wise(ref, '" t="b"><v>', pc.cast(pc.cast(values, pa.int8()), pa.string()),
                                            "</v></c>", "")
    else:
        text = values if is_text(kind) else pc.cast(values, pa.string())
        cells = _text_cells(ref, text)
    return pc.if_else(pc.is_null(cells), pc.binary_join_element_wise(ref, '"/>', ""), cells)


def _text_cells(ref: pa.Array, text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(ref, '" t="inlineStr"><is><t xml:space="preserve">', xml_escape(text),
                                       "</t></is></c>", "")


def _concatenated(strings: pa.Array) -> bytes:
    """The UTF-8 bytes of all values back to back, straight from the Arrow buffers."""
    strings = strings.cast(pa.large_string())
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[strings.offset:strings.offset + len(strings) + 1]
    return strings.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]] if len(strings) else b""


def _write_package(archive: zipfile.ZipFile, sheets: list[tuple[str, int, SheetPlan]]) -> None:
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, len(sheets) + 1))
    archive.writestr(_entry("[Content_Types].xml"), (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{overrides}</Types>"))
    archive.writestr(_entry("_rels/.rels"), (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'))
    sheet_list = "".join(f'<sheet name={quoteattr(name[:31])} sheetId="{i}" r:id="rId{i}"/>'
                         for i, (name, _, _) in enumerate(sheets, start=1))
    filters = "".join(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
                      f"{escape(_quoted_sheet(name))}!$A$1:${plan.letters[-1]}${rows + 1}</definedName>"
                      for i, (name, rows, plan) in enumerate(sheets))
    archive.writestr(_entry("xl/workbook.xml"), (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<workbook {_NS} {_NS_R}><bookViews><workbookView/></bookViews><sheets>{sheet_list}</sheets>"
        f"<definedNames>{filters}</definedNames></workbook>"))
    relations = "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                        f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(sheets) + 1))
    archive.writestr(_entry("xl/_rels/workbook.xml.rels"), (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'{relations}<Relationship Id="rId{len(sheets) + 1}" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>'))
    archive.writestr(_entry("xl/styles.xml"), _STYLES)


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed timestamp, so the same rows always give the same bytes."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    for attribute in ("compress_level", "_compresslevel"):  # the name changed in Python 3.13
        if hasattr(type(info), attribute):
            setattr(info, attribute, 1)
    return info


def _quoted_sheet(name: str) -> str:
    return "'" + name[:31].replace("'", "''") + "'"


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f"<styleSheet {_NS}>"
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="dd.mm.yyyy"/>'
    '<numFmt numFmtId="165" formatCode="dd.mm.yyyy hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")
