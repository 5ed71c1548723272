"""The cleaning run: a read file, chunk by chunk, into clean rows, duplicates and rejected rows.

Every input row lands in exactly one of the three tables (rows that could not be read go to the rejected
ones), so a manager can account for the whole file. The run goes in chunks so the page can print progress
("12,000 of 100,000 rows") and so Stop ends between two chunks with the outcome of the rows done so far and
the count of rows never looked at, never with a half-examined chunk.

Decisions a manager sees:

* a row whose mapped cells include one that fails its rule (a phone that is not a number while the e-mail is
  fine) is **rejected** with every failing rule: the list is for importing contacts, and a wrong phone
  imported is worse than a row to fix by hand;
* a row with no phone, e-mail or INN at all is rejected ("no phone, e-mail or INN");
* duplicates match by normalised phone OR e-mail OR INN, first inside the file (the first occurrence is
  clean, later ones point at it or at what it matched), then against what is stored (:mod:`.dedup`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from ..errors import AnalyticsError
from . import rules
from .dedup import KINDS, Holder, Stored
from .read import Source

ROW = "row"
PHONE, PHONE_KIND, EMAIL, INN, NAME, GOES_TO = ("phone (clean)", "phone kind", "e-mail (clean)", "INN (clean)",
                                                "name (clean)", "goes to")
DUPLICATE_OF, FIRST_SEEN = "duplicate of", "first seen"
ORIGINAL, REASON = "original value", "reason"
NO_KEY = "no phone, e-mail or INN"


class MappingError(AnalyticsError):
    """The column mapping cannot be used with this file."""


@dataclass(frozen=True)
class Mapping:
    """Which column of the file holds the phone, e-mail, INN and name (None: the file has none)."""

    phone: str | None = None
    email: str | None = None
    inn: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not (self.phone or self.email or self.inn):
            raise MappingError("Choose the column with phones, e-mails or INNs: a row is checked by at least one.")

    @property
    def roles(self) -> dict[str, str]:
        """The key roles that are mapped, in the order duplicates are looked for: phone, email, inn."""
        return {role: column for role in KINDS if (column := getattr(self, role))}

    def check(self, header: list[str]) -> None:
        missing = [column for column in (self.phone, self.email, self.inn, self.name) if column and column not in header]
        if missing:
            raise MappingError(f"The file has no column {', '.join(f'«{name}»' for name in missing)}; "
                               "choose among: " + ", ".join(header) + ".")


@dataclass(frozen=True)
class Options:
    """How a list is cleaned.

    ``split_by_kind``: mobiles go to contacts and landlines to companies (a "goes to" column in the clean rows);
    ``check_stored``: duplicates are also looked for among stored CRM contacts, companies and saved lists;
    ``chunk_rows``: rows per step between two progress reports (and the latest moment Stop is noticed).
    """

    region: str = "RU"
    split_by_kind: bool = False
    check_stored: bool = True
    chunk_rows: int = 10_000

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise AnalyticsError(f"chunk_rows must be at least 1, not {self.chunk_rows}.")


@dataclass(frozen=True)
class Outcome:
    """The three tables (row number first, the file's values, the normalised ones, then why) and the counts."""

    clean: pa.Table
    duplicates: pa.Table
    rejected: pa.Table
    total: int
    looked_at: int
    not_looked_at: int
    stopped: bool

    @property
    def summary(self) -> str:
        text = (f"{self.clean.num_rows:,} clean, {self.duplicates.num_rows:,} duplicates, "
                f"{self.rejected.num_rows:,} rejected of {self.total:,} rows")
        return text + (f"; stopped, {self.not_looked_at:,} rows not looked at." if self.stopped else ".")


@dataclass
class _Seen:
    """Keys met so far in the file (across chunks), per kind: value → the row number (a clean row) or the stored
    record they lead to. Plain row numbers, not :class:`Holder` objects, keep a million-row file's dict small."""

    keys: dict[str, dict[str, int | Holder]] = field(default_factory=lambda: {kind: {} for kind in KINDS})


def clean_rows(source: Source, mapping: Mapping, options: Options | None = None, stored: Stored | None = None, *,
               progress: Callable[[int, int], None] | None = None,
               cancelled: threading.Event | None = None) -> Outcome:
    """Clean the file chunk by chunk; ``progress(done, total)`` after each chunk; ``cancelled`` set = Stop."""
    options = options or Options()
    mapping.check(source.table.column_names)
    stored = stored if stored is not None and options.check_stored else Stored()
    total = source.table.num_rows + len(source.unreadable)
    names = _source_names(source.table.column_names)
    seen = _Seen()
    parts: dict[str, list[pa.Table]] = {"clean": [], "duplicates": [], "rejected": [_unreadable(source, names, options)]}
    done, stopped = len(source.unreadable), False
    for start in range(0, source.table.num_rows, options.chunk_rows):
        if cancelled is not None and cancelled.is_set():
            stopped = True
            break
        chunk = source.table.slice(start, options.chunk_rows)
        rows = source.rows.slice(start, options.chunk_rows)
        for kind, table in _chunk(chunk, rows, names, mapping, options, stored, seen).items():
            parts[kind].append(table)
        done += chunk.num_rows
        if progress is not None:
            progress(done, total)
    empty = _empty(names, options)
    tables = {kind: pa.concat_tables(found) if found else _extended(empty, kind) for kind, found in parts.items()}
    return Outcome(tables["clean"], tables["duplicates"], tables["rejected"].sort_by(ROW), total, done, total - done,
                   stopped)


def _source_names(header: list[str]) -> list[str]:
    """The file's column names in the outputs: a header that clashes with ours is prefixed "file: "."""
    ours = {ROW, PHONE, PHONE_KIND, EMAIL, INN, NAME, GOES_TO, DUPLICATE_OF, FIRST_SEEN, ORIGINAL, REASON}
    return [f"file: {name}" if name in ours else name for name in header]


def _chunk(chunk: pa.Table, rows: pa.Array, names: list[str], mapping: Mapping, options: Options, stored: Stored,
           seen: _Seen) -> dict[str, pa.Table]:
    count = chunk.num_rows
    nothing = pa.nulls(count, pa.string())
    originals: dict[str, list[str | None]] = {}
    values: dict[str, pa.Array] = {}
    problems: dict[str, list[str | None]] = {}
    kind: pa.Array = nothing
    for role, column in mapping.roles.items():
        original = chunk.column(column).combine_chunks()
        checked = (rules.phones(original, options.region) if role == "phone"
                   else rules.emails(original) if role == "email" else rules.inns(original))
        originals[role] = original.to_pylist()
        values[role] = checked.value
        problems[role] = checked.problem.to_pylist()
        if role == "phone" and checked.kind is not None:
            kind = checked.kind
    name = rules.tidy(chunk.column(mapping.name).combine_chunks()) if mapping.name else nothing
    keys = {role: array.to_pylist() for role, array in values.items()}
    numbers = rows.to_pylist()
    clean, duplicates, rejected = [], [], []
    matched: list[str] = []
    first_seen: list[dt.datetime | None] = []
    failed: list[str | None] = []
    reasons: list[str] = []
    for index in range(count):
        bad = [role for role in problems if problems[role][index]]
        found = [(role, keys[role][index]) for role in keys if keys[role][index]]
        if bad or not found:
            rejected.append(index)
            failed.append("; ".join(str(originals[role][index]) for role in bad) if bad else None)
            reasons.append("; ".join(problems[role][index] for role in bad) if bad else NO_KEY)
            continue
        match: tuple[str, int | Holder] | None = next(
            ((role, known[value]) for role, value in found if value in (known := seen.keys[role])), None)
        if match is None:
            match = next(((role, holder) for role, value in found if (holder := stored.find(role, value))), None)
        if match is None:
            clean.append(index)
            holder: int | Holder = numbers[index]
        else:
            duplicates.append(index)
            holder = match[1]
            if isinstance(holder, Holder):
                matched.append(f"{holder.what} (same {KINDS[match[0]]})")
                first_seen.append(holder.first_seen)
            else:
                matched.append(f"row {holder} (same {KINDS[match[0]]})")
                first_seen.append(None)
        for role, value in found:
            seen.keys[role].setdefault(value, holder)
    base = pa.table([rows, *chunk.columns, values.get("phone", nothing), kind, values.get("email", nothing),
                     values.get("inn", nothing), name], names=[ROW, *names, PHONE, PHONE_KIND, EMAIL, INN, NAME])
    if options.split_by_kind:
        base = base.append_column(GOES_TO, _goes_to(kind, values.get("inn", nothing)))
    picked = {part: base.take(pa.array(indices, pa.int64())) for part, indices in
              (("clean", clean), ("duplicates", duplicates), ("rejected", rejected))}
    picked["duplicates"] = picked["duplicates"].append_column(DUPLICATE_OF, pa.array(matched, pa.string())).append_column(
        FIRST_SEEN, pa.array(first_seen, pa.timestamp("s")))
    picked["rejected"] = picked["rejected"].append_column(ORIGINAL, pa.array(failed, pa.string())).append_column(
        REASON, pa.array(reasons, pa.string()))
    return picked


def _goes_to(kind: pa.Array, inn: pa.Array) -> pa.Array:
    """Mobiles to contacts, landlines to companies; without a phone class, an INN makes it a company."""
    return pa.array(["contact" if phone == "mobile" else "company" if phone == "landline" or tax else "contact"
                     for phone, tax in zip(kind.to_pylist(), inn.to_pylist(), strict=True)], pa.string())


def _empty(names: list[str], options: Options) -> pa.Table:
    columns = [ROW, *names, PHONE, PHONE_KIND, EMAIL, INN, NAME, *([GOES_TO] if options.split_by_kind else [])]
    return pa.table({column: pa.array([], pa.uint32() if column == ROW else pa.string()) for column in columns})


def _extended(table: pa.Table, kind: str) -> pa.Table:
    """An empty table of one of the three kinds, with that kind's extra columns."""
    if kind == "duplicates":
        return table.append_column(DUPLICATE_OF, pa.array([], pa.string())).append_column(
            FIRST_SEEN, pa.array([], pa.timestamp("s")))
    if kind == "rejected":
        return table.append_column(ORIGINAL, pa.array([], pa.string())).append_column(REASON, pa.array([], pa.string()))
    return table


def _unreadable(source: Source, names: list[str], options: Options) -> pa.Table:
    """The rows the reader could not read, as rejected rows: the line's text as the original value."""
    count = len(source.unreadable)
    table = _empty(names, options)
    columns = {column: pa.nulls(count, table.schema.field(column).type) for column in table.column_names}
    columns[ROW] = pa.array([row for row, _, _ in source.unreadable], pa.uint32())
    columns[ORIGINAL] = pa.array([text for _, text, _ in source.unreadable], pa.string())
    columns[REASON] = pa.array([reason for _, _, reason in source.unreadable], pa.string())
    return pa.table(columns)
