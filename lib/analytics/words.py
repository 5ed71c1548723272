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


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st: a place in a line."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th')}"


def about_seconds(seconds: float) -> str:
    """A wait as a person says it: "about 20 s", "about 2 min"."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    return f"about {round(seconds / 60)} min"
