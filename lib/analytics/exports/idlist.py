"""ID lists for ad platforms: one ID per line, no header, no quotes, ``\\n`` line ends, ASCII.

Retargeting audiences are uploaded to ad platforms (VK Ads, Yandex Audiences, Meta) as a plain list
of identifiers; a header line or a BOM would be read as one more (invalid) ID.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc


def write_id_list(chunks: Iterable[pa.Table], handle: IO[bytes]) -> int:
    """Write the first column of every chunk, one value per line; empty values are skipped. Returns the lines."""
    lines = 0
    for chunk in chunks:
        if chunk.num_columns == 0 or chunk.num_rows == 0:
            continue
        values = pc.utf8_trim_whitespace(chunk.column(0).cast(pa.string()))
        values = values.filter(pc.and_(pc.is_valid(values), pc.not_equal(values, "")))
        if len(values):
            handle.write(("\n".join(values.to_pylist()) + "\n").encode("ascii", errors="replace"))
            lines += len(values)
    return lines
