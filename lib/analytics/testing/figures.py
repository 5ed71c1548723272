"""How benchmarks print their measured figures: one aligned table of what, where, and the figure."""

from __future__ import annotations


def print_table(rows: list[tuple[str, str, str]], last_header: str) -> None:
    """Benchmarks print their figures as one aligned table: what, where, figure."""
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{'what':<{width[0]}}  {'where':<{width[1]}}  {last_header}")
    for row in rows:
        print(f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]}")


def print_rows(headers: list[str], rows: list[list[object]]) -> None:
    """A table of any number of columns, aligned."""
    cells = [[str(value) for value in row] for row in [headers, *rows]]
    width = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(value.ljust(width[i]) for i, value in enumerate(row)).rstrip())
