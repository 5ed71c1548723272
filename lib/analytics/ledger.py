"""A keyed write that appears whole or not at all: rows under a write id, then one commit row.

A write that spans tables (an audience's exclusions and recipients, a draw's participants and picks,
next a CRM load's batches) must survive a kill at any moment, be safe to re-run, and let only one of
two racing writers become a version, on both backends and on ClickHouse 18.16, which has no
transactions. So every such write follows one protocol:

1. :meth:`Ledger.write_id` names one attempt; :meth:`Ledger.add_rows` inserts each part of its rows
   under the insert token ``<write_id>-<part>``, so repeating the attempt writes each part once.
2. :meth:`Ledger.commit` inserts one row into the commit table under a token made of the key and the
   version, so of two writers that chose the same version only one row is stored (the embedded
   store decides under its table lock), and reads back what is stored: the loser learns who won,
   and its rows stay invisible.
3. Readers look only at rows whose write id a commit names (:meth:`Ledger.committed`);
   :meth:`Ledger.current`, :meth:`Ledger.version` and :meth:`Ledger.history` read the commits.

On a server, two writers racing within the same instant can both store their commit rows (see
``Database.insert``): readers take the earlier by (time column, write id), a writer whose read-back
came before the other's row believes it won, and a later merge of the ``ReplacingMergeTree`` keeps
just one of the two, not necessarily that one. The embedded store has no such window.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .db import Database, TableSpec
from .db.base import Data
from .db.sql import compose, identifier
from .errors import AnalyticsError, DatabaseError

TOKEN_LIMIT = 200  # what Database.insert accepts


class CommitConflict(AnalyticsError):
    """The commit token of a version was taken, yet no commit row of that version can be read."""


@dataclass(frozen=True)
class Committed:
    """What is stored for a version after :meth:`Ledger.commit`.

    ``won`` is True when this call stored the row that counts: a racing writer's row or a repeated
    commit leaves it False, so the caller audits its write once.
    """

    row: dict[str, Any]
    won: bool


@dataclass(frozen=True)
class Ledger:
    """The commit table of one kind of keyed write: its key and version (from the spec), and how to order ties.

    ``stamp`` is the commit's time column: of two commit rows of one version (a server race), the one
    with the earlier stamp, then the smaller write id, is the one every reader takes. ``prefix``
    starts the commit tokens (``<prefix>-<key values>-v<version>``).
    """

    commits: TableSpec
    stamp: str
    prefix: str
    write_column: str = "write_id"

    def __post_init__(self) -> None:
        if not self.commits.version:
            raise DatabaseError(f"Table '{self.commits.name}' keeps no versions; a ledger needs a key and a version.")
        for name in (self.stamp, self.write_column):
            identifier(name, self.commits.columns, table=self.commits.name)

    # --- writing ---------------------------------------------------------------------------
    @staticmethod
    def write_id() -> str:
        """A new write id: one attempt's name, shared by its rows and its commit."""
        return secrets.token_hex(8)

    def add_rows(self, writer: Database, table: TableSpec, rows: Data | Iterable[Data], write_id: str,
                 part: str) -> int:
        """Insert one part of a write's rows (they carry ``write_id``); a repeat of the same part writes nothing."""
        identifier(self.write_column, table.columns, table=table.name)
        return writer.insert(table.name, rows, token=f"{write_id}-{part}")

    def commit(self, writer: Database, row: Mapping[str, Any]) -> Committed:
        """Store the commit row of one version unless that version is taken; return what is stored for it."""
        columns = self.commits.columns
        if set(row) != set(columns):
            raise DatabaseError(f"A commit row of '{self.commits.name}' needs exactly its columns: "
                                f"{', '.join(columns)}.")
        report = writer.write(self.commits.name, self.commits.arrow({name: [row[name]] for name in columns}),
                              token=self.token(row))
        key = {name: row[name] for name in self.commits.key}
        kept = self.version(writer, key, row[self.commits.version])
        if kept is None:
            raise CommitConflict(f"Version {row[self.commits.version]} of {self._describe(key)} in "
                                 f"'{self.commits.name}' was not stored; try again.")
        return Committed(kept, not report.duplicate and kept[self.write_column] == row[self.write_column])

    def token(self, row: Mapping[str, Any]) -> str:
        """The commit's insert token: the key's values and the version, readable where that is unambiguous.

        Values are joined with '-', the form audiences and raffles always used; when a value before
        the last holds a '-' (two keys could then give one text) or the text is too long, the key is hashed.
        """
        values = [row[name] for name in self.commits.key]
        version = f"v{int(row[self.commits.version])}"
        plain = "-".join([self.prefix, *(str(value) for value in values), version])
        if len(plain) <= TOKEN_LIMIT and not any(isinstance(value, str) and "-" in value for value in values[:-1]):
            return plain
        digest = hashlib.sha256(json.dumps(values, default=str, ensure_ascii=False).encode()).hexdigest()
        return f"{self.prefix[:100]}-{digest}-{version}"

    # --- reading the commits -----------------------------------------------------------------
    def current(self, db: Database, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The commit row of the key's highest version; None if it was never committed."""
        rows = self._read(db, key, "", "ORDER BY {v} DESC, {s}, {w} LIMIT 1", {})
        return rows[0] if rows else None

    def version(self, db: Database, key: Mapping[str, Any], version: int) -> dict[str, Any] | None:
        """The commit row of one version of the key; None if that version was never committed."""
        rows = self._read(db, key, " AND {v} = %(ledger_version)s", "ORDER BY {s}, {w} LIMIT 1",
                          {"ledger_version": int(version)})
        return rows[0] if rows else None

    def history(self, db: Database, key: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The commit row of every version of the key, oldest first."""
        return self._read(db, key, "", "ORDER BY {v}, {s}, {w} LIMIT 1 BY {v}", {})

    def next_version(self, db: Database, key: Mapping[str, Any]) -> int:
        """The version a new write of the key would become (a racing writer may take it first)."""
        found = self.current(db, key)
        return int(found[self.commits.version]) + 1 if found else 1

    # --- reading committed rows of the data tables -----------------------------------------------
    def committed(self, where: str = "", *, current: bool = False) -> str:
        """A condition on a data table: its rows belong to a committed write.

        ``where`` narrows the commits (SQL over the commit table's columns, values as ``%(name)s``);
        with ``current`` only each key's current version counts. Of two commit rows of one version,
        only the one readers take counts, so a racing loser's rows never show.
        """
        names = self._names()
        keep = "ORDER BY {v} DESC, {s}, {w} LIMIT 1 BY {k}" if current else "ORDER BY {v}, {s}, {w} LIMIT 1 BY {k}, {v}"
        return (compose("{w} IN (SELECT {w} FROM (SELECT {w}, {k}, {v} FROM {t}", **names)
                + (f" WHERE {where}" if where else "") + compose(" " + keep + "))", **names))

    # --- helpers ---------------------------------------------------------------------------
    def _names(self) -> dict[str, Any]:
        spec = self.commits
        assert spec.version  # checked when the ledger was made
        return {"t": identifier(spec.name, [spec.name], kind="table"),
                "k": [identifier(name, spec.columns, table=spec.name) for name in spec.key],
                "v": identifier(spec.version, spec.columns, table=spec.name),
                "s": identifier(self.stamp, spec.columns, table=spec.name),
                "w": identifier(self.write_column, spec.columns, table=spec.name)}

    def _read(self, db: Database, key: Mapping[str, Any], condition: str, order: str,
              params: dict[str, Any]) -> list[dict[str, Any]]:
        """Commit rows of one key, in the given order (the commit table may not exist yet: none)."""
        spec = self.commits
        if set(key) != set(spec.key):
            raise DatabaseError(f"A key of '{spec.name}' is the values of {', '.join(spec.key)}; got {', '.join(key)}.")
        if spec.name not in db.tables():
            return []
        names = self._names()
        columns = [identifier(name, spec.columns, table=spec.name) for name in spec.columns]
        matches = [compose("{c} = %(key_" + str(index) + ")s", c=column)
                   for index, column in enumerate(names["k"])]
        sql = (compose("SELECT {c} FROM {t} WHERE ", c=columns, t=names["t"]) + " AND ".join(matches)
               + compose(condition + " " + order, **names))
        bound = {**params, **{f"key_{index}": key[name] for index, name in enumerate(spec.key)}}
        return db.query_arrow(sql, bound).to_pylist()

    def _describe(self, key: Mapping[str, Any]) -> str:
        return ", ".join(f"{name} {value}" for name, value in key.items())
