"""Column-at-a-time cell preparation shared by the XLSX and CSV writers (pyarrow compute, no Python loops)."""

from __future__ import annotations

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


def neutralize_formulas(values: pa.Array) -> pa.Array:
    """Prefix an apostrophe to text that a spreadsheet would otherwise treat as a formula."""
    risky = pc.match_substring_regex(values, FORMULA_START)
    return pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)


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
