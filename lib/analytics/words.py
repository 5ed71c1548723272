"""Numbers in a person's words: one place for plurals and counts, so no page says "winner(s)" or "1 rows".

English plurals only where the word is regular; irregular ones are given whole ("person", "people").
"""

from __future__ import annotations


def plural(count: int, one: str, many: str | None = None) -> str:
    """The noun that goes with ``count``: plural(1, "row") is "row", plural(2, "row") is "rows"."""
    return one if abs(count) == 1 else (many if many is not None else f"{one}s")


def counted(count: int, one: str, many: str | None = None) -> str:
    """The count with thousands separators and its noun: counted(12345, "person", "people") is "12,345 people"."""
    return f"{count:,} {plural(count, one, many)}"
