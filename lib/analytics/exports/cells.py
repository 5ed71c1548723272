"""Column-at-a-time cell preparation shared by the XLSX and CSV writers (pyarrow compute, no Python loops)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# A text cell starting with one of these could be run as a formula by a spreadsheet.
FORMULA_START = r"^[=+\-@\t\r]"
# XML 1.0 cannot carry these control characters at all.
XML_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"
# Whole numbers beyond Excel's 15 significant digits would be rounded: they are written as text.
EXCEL_EXACT_DIGITS = 10**15


def is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


_RISKY_BYTES = np.frombuffer(b"=+-@\t\r", dtype=np.uint8)


def _any_risky_start(values: pa.Array) -> bool:
    """Whether any value starts with a formula character: a look at each first byte, no string copies."""
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=offset_type)[values.offset:values.offset + len(values) + 1]
    data = values.buffers()[2]
    if data is None or len(offsets) < 2:
        return False
    starts = offsets[:-1][np.diff(offsets) > 0]
    return bool(np.isin(np.frombuffer(data, dtype=np.uint8)[starts], _RISKY_BYTES).any())


def neutralize_formulas(values: pa.Array) -> pa.Array:
    """Prefix an apostrophe to text that a spreadsheet would otherwise treat as a formula."""
    if not _any_risky_start(values):
        return values
    return pc.replace_substring_regex(values, "(" + FORMULA_START + ")", "'\\1")


def xml_escape(values: pa.Array) -> pa.Array:
    values = pc.replace_substring_regex(values, XML_ILLEGAL, "")
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):  # XML would turn CR into LF
        values = pc.replace_substring(values, raw, escaped)
    return values


def integers_fit_excel(values: pa.Array) -> bool:
    """True when every value is exact as an Excel number (at most 15 digits)."""
    if len(values) == values.null_count:
        return True
    low, high = pc.min_max(values).values()
    return abs(int(high.as_py())) < EXCEL_EXACT_DIGITS and abs(int(low.as_py())) < EXCEL_EXACT_DIGITS
