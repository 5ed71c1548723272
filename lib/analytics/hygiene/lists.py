"""Accepted rows saved as a named list, one keyed write (:mod:`analytics.ledger`), so the next file dedups against them.

Order of a save: the rows into ``contact_list_rows`` under a new write id, then the commit row in
``contact_lists``. Until the commit lands the rows are invisible (readers take only rows whose write id a
commit names), so a save killed half way leaves the list as it was, and running it again saves once. The
commit carries a hash of the rows' content: saving the same rows again under the same name adds no version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from ..db import Database, TableSpec
from ..errors import AnalyticsError
from ..ledger import CommitConflict, Ledger
from . import clean
from .dedup import Holder, Stored

LISTS = TableSpec("contact_lists", {
    "list": "String", "version": "UInt64", "write_id": "String", "rows": "UInt64", "content_hash": "String",
    "saved_at": "DateTime", "saved_by": "String",
}, key=("list",), version="version", description="Contact lists saved after cleaning, one row per version",
    labels={"list": "List", "version": "Version", "write_id": "Write", "rows": "Rows", "content_hash": "Content",
            "saved_at": "Saved at (UTC)", "saved_by": "Saved by"})

LIST_ROWS = TableSpec("contact_list_rows", {
    "list": "String", "write_id": "String", "row": "UInt64", "name": "String", "phone": "String", "email": "String",
    "inn": "String", "kind": "String",
}, order_by=("list", "write_id", "row"), description="The rows of each saved contact list version",
    labels={"list": "List", "write_id": "Write", "row": "Row in the file", "name": "Name", "phone": "Phone",
            "email": "E-mail", "inn": "INN", "kind": "Goes to"})

LEDGER = Ledger(LISTS, stamp="saved_at", prefix="contact-list")
_COLUMNS = {"name": clean.NAME, "phone": clean.PHONE, "email": clean.EMAIL, "inn": clean.INN, "kind": clean.GOES_TO}


class ListConflict(AnalyticsError):
    """Someone saved this list at the same moment; theirs was kept."""


@dataclass(frozen=True)
class SavedList:
    """The stored version of a list after :func:`save_list`; ``new`` is False when the same rows were already saved."""

    name: str
    version: int
    rows: int
    saved_at: dt.datetime
    new: bool

    @property
    def message(self) -> str:
        when = self.saved_at.strftime("%d.%m.%Y %H:%M")
        if self.new:
            return f"Saved {self.rows:,} rows as list «{self.name}» version {self.version}."
        return f"These rows are already saved as list «{self.name}» version {self.version} ({when})."


def ensure_tables(writer: Database) -> None:
    for spec in (LISTS, LIST_ROWS):
        writer.create_table(spec)


def _rows(accepted: pa.Table) -> pa.Table:
    """The saved columns of the clean rows (a missing one, e.g. "goes to" without the split, as '')."""
    count = accepted.num_rows
    columns = {"row": accepted.column(clean.ROW).cast(pa.uint64())}
    for name, source in _COLUMNS.items():
        column = accepted.column(source) if source in accepted.column_names else pa.nulls(count, pa.string())
        columns[name] = column.cast(pa.string()).fill_null("")
    return pa.table(columns)


def content_hash(rows: pa.Table) -> str:
    """A hash of the rows' content, independent of their order (the same rows give the same hash)."""
    lines = sorted("\x1f".join(values) for values in zip(*(rows.column(name).to_pylist() for name in _COLUMNS),
                                                          strict=True))
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode() + b"\x1e")
    return digest.hexdigest()


def save_list(writer: Database, name: str, accepted: pa.Table, *, user: str,
              before_commit: Callable[[], None] | None = None) -> SavedList:
    """Save the clean rows of :class:`~analytics.hygiene.clean.Outcome` as list ``name``; unchanged rows add nothing."""
    if not name.strip():
        raise AnalyticsError("Give the list a name before saving it.")
    ensure_tables(writer)
    rows = _rows(accepted)
    digest = content_hash(rows)
    current = LEDGER.current(writer, {"list": name})
    if current and current["content_hash"] == digest:
        return SavedList(name, int(current["version"]), int(current["rows"]), current["saved_at"], new=False)
    write_id = LEDGER.write_id()
    count = rows.num_rows
    LEDGER.add_rows(writer, LIST_ROWS, rows.add_column(0, "list", pa.repeat(pa.scalar(name), count))
                    .add_column(1, "write_id", pa.repeat(pa.scalar(write_id), count)).select(list(LIST_ROWS.columns)),
                    write_id, "rows")
    if before_commit is not None:
        before_commit()  # tests stop the save here
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    version = int(current["version"]) + 1 if current else 1
    try:
        committed = LEDGER.commit(writer, {"list": name, "version": version, "write_id": write_id, "rows": count,
                                           "content_hash": digest, "saved_at": now, "saved_by": user})
    except CommitConflict:
        raise ListConflict(f"The list «{name}» could not be saved; try again.") from None
    row = committed.row
    return SavedList(name, int(row["version"]), int(row["rows"]), row["saved_at"], new=committed.won)


def list_keys(db: Database, stored: Stored) -> None:
    """Add the phones, e-mails and INNs of every list's current version to ``stored``."""
    tables = set(db.tables())
    if LISTS.name not in tables or LIST_ROWS.name not in tables:
        return
    commits = db.query_arrow("SELECT list, version, write_id, saved_at FROM contact_lists"
                             " ORDER BY version DESC, saved_at, write_id LIMIT 1 BY list").to_pylist()
    holders = {commit["write_id"]: Holder(f"list «{commit['list']}» v{commit['version']}, saved "
                                          f"{commit['saved_at']:%d.%m.%Y}", commit["saved_at"]) for commit in commits}
    rows = db.query_arrow("SELECT write_id, phone, email, inn FROM contact_list_rows WHERE "
                          + LEDGER.committed(current=True))
    for kind in ("phone", "email", "inn"):
        for write_id, value in zip(rows.column("write_id").to_pylist(), rows.column(kind).to_pylist(), strict=True):
            if value and write_id in holders:
                stored.keys[kind].setdefault(value, holders[write_id])
