"""Saving an audience as one keyed write (:mod:`analytics.ledger`), and reading saved ones back (any version).

Order of a save: exclusions, recipients, then the commit row in ``audiences``. Until the commit lands,
nothing of the write is visible (readers join on the commit's ``write_id``); the commit's token (sub_id,
version) lets only one of two racing saves become that version. A kill anywhere leaves the sub_id as
it was; a second run finds the commit and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ..audit import AuditEvent, audit
from ..config import Settings
from ..db import Database
from ..db.sql import compose, identifier
from ..ledger import CommitConflict, Ledger
from .steps import REASON_DUPLICATE
from .tables import AUDIENCE_TABLES, AUDIENCES, EXCLUSIONS, RECIPIENTS

GROUPS = ("target", "control")
WRITE_ROWS = 100_000


#: the audience saves: rows in ``audience_exclusions`` and ``audience_recipients``, the commit in ``audiences``
LEDGER = Ledger(AUDIENCES, stamp="created_at", prefix="audience")


class AudienceConflict(CommitConflict):
    """Someone saved this sub_id at the same moment; theirs was kept."""


@dataclass(frozen=True)
class SavedAudience:
    """The commit row of one audience version."""

    sub_id: str
    version: int
    write_id: str
    kind: str
    cohort_id: str
    salt: int
    control_percent: float
    holdout_version: int
    cohort_size: int
    target_size: int
    control_size: int
    excluded_size: int
    parameters: str
    created_at: dt.datetime
    created_by: str

    @property
    def values(self) -> dict[str, Any]:
        return json.loads(self.parameters or "{}")

    def bound(self, **extra: Any) -> dict[str, Any]:
        return {"sub_id": self.sub_id, "version": self.version, "write_id": self.write_id, **extra}


def ensure_tables(writer: Database) -> None:
    for spec in AUDIENCE_TABLES:
        writer.create_table(spec)


def saved(db: Database, sub_id: str, version: int | None = None) -> SavedAudience | None:
    """The current (or the given) version of ``sub_id``, None if never saved."""
    row = LEDGER.version(db, {"sub_id": sub_id}, version) if version else LEDGER.current(db, {"sub_id": sub_id})
    return SavedAudience(**row) if row else None


def history(db: Database, sub_id: str) -> list[SavedAudience]:
    """Every version of ``sub_id``, oldest first."""
    return [SavedAudience(**row) for row in LEDGER.history(db, {"sub_id": sub_id})]


def next_version(db: Database, sub_id: str) -> int:
    return LEDGER.next_version(db, {"sub_id": sub_id})


def members_sql(group: str, columns: tuple[str, ...] = ("user_id", "amplitude_id")) -> str:
    """Recipients of one saved version and group; bind with ``SavedAudience.bound(group=...)``."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}")
    return compose("SELECT {c} FROM audience_recipients WHERE sub_id = %(sub_id)s AND version = %(version)s"
                   " AND write_id = %(write_id)s AND {g} = %(group)s ORDER BY user_id",
                   c=[identifier(name, RECIPIENTS.columns) for name in columns],
                   g=identifier("group", RECIPIENTS.columns))


EXCLUSIONS_SQL = ("SELECT user_id, amplitude_id, reason FROM audience_exclusions WHERE sub_id = %(sub_id)s"
                  " AND version = %(version)s AND write_id = %(write_id)s ORDER BY reason, user_id")


def why_not(db: Database, sub_id: str, user_id: int, version: int | None = None) -> str:
    """The answer to "why didn't user X get the push": their group, or the reason they were left out."""
    audience = saved(db, sub_id, version)
    if audience is None:
        return f"There is no saved audience with sub_id {sub_id}."
    where = " WHERE sub_id = %(sub_id)s AND version = %(version)s AND write_id = %(write_id)s AND user_id = %(user)s"
    group = db.scalar(compose("SELECT any({g}) FROM audience_recipients", g=identifier("group", RECIPIENTS.columns))
                      + where + " HAVING count() > 0", audience.bound(user=user_id))
    if group:
        return f"User {user_id} is in the {group} group of {sub_id} (version {audience.version})."
    # a user listed twice in the cohort has "duplicate" for the extra row; the first row's fate is the answer
    reason = db.scalar("SELECT reason FROM audience_exclusions" + where + " ORDER BY reason = %(duplicate)s, reason LIMIT 1",
                       audience.bound(user=user_id, duplicate=REASON_DUPLICATE))
    if reason:
        return f"User {user_id} was left out of {sub_id} (version {audience.version}): {reason}."
    return f"User {user_id} was not in cohort {audience.cohort_id} when {sub_id} (version {audience.version}) was saved."


def save(writer: Database, settings: Settings, *, sub_id: str, version: int, kind: str, cohort_id: str, salt: int,
         control_percent: float, holdout_version: int, cohort_size: int, members: pa.Table, control: np.ndarray,
         exclusions: pa.Table, parameters: Mapping[str, Any], user: str,
         before_commit: Any = None) -> SavedAudience:
    """Write one audience version (exclusions, recipients, then the commit); returns what is stored for it.

    ``members`` has ``user_id`` and ``amplitude_id``; ``control`` marks the control group. When a racing
    save committed the same version first, its audience is returned and this write stays invisible.
    """
    ensure_tables(writer)
    write_id = LEDGER.write_id()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    text = json.dumps(dict(parameters), default=str, ensure_ascii=False, sort_keys=True)
    rows = members.num_rows
    common = {"sub_id": sub_id, "version": version, "write_id": write_id}
    LEDGER.add_rows(writer, EXCLUSIONS, (pa.table({
        **_repeat(common, part.num_rows), "user_id": part.column("user_id"), "amplitude_id": part.column("amplitude_id"),
        "reason": part.column("reason")}) for part in _slices(exclusions)), write_id, "exclusions")
    groups = pa.array(np.where(control, "control", "target"), pa.string())
    recipients = members.append_column("group", groups)
    constant = {"cohort_id": cohort_id, "salt": salt, "created_at": now, "created_by": user, "parameters": text}
    LEDGER.add_rows(writer, RECIPIENTS, (pa.table({
        **_repeat(common, part.num_rows), "user_id": part.column("user_id"), "amplitude_id": part.column("amplitude_id"),
        "group": part.column("group"), **_repeat(constant, part.num_rows)}) for part in _slices(recipients)),
        write_id, "recipients")
    if before_commit is not None:
        before_commit()  # tests stop the write here
    commit = {**common, "kind": kind, "cohort_id": cohort_id, "salt": salt, "control_percent": control_percent,
              "holdout_version": holdout_version, "cohort_size": cohort_size,
              "target_size": int(rows - np.count_nonzero(control)), "control_size": int(np.count_nonzero(control)),
              "excluded_size": exclusions.num_rows, "parameters": text, "created_at": now, "created_by": user}
    try:
        committed = LEDGER.commit(writer, commit)
    except CommitConflict:
        raise AudienceConflict(f"The audience {sub_id} could not be saved; try again.") from None
    if committed.won:
        audit(AuditEvent("write", f"audience:{kind}", {**parameters, "sub_id": sub_id, "version": version},
                         rows, run_id=write_id, user=user), settings)
    return SavedAudience(**committed.row)


def _slices(table: pa.Table) -> list[pa.Table]:
    """The rows in slices of ``WRITE_ROWS`` (zero-copy), so repeated columns never exist for all rows at once."""
    return [table.slice(start, WRITE_ROWS) for start in range(0, table.num_rows, WRITE_ROWS)] or [table]


def _repeat(values: Mapping[str, Any], rows: int) -> dict[str, pa.Array]:
    """Constant columns of ``rows`` rows."""
    kinds = {str: pa.string(), int: pa.uint64(), float: pa.float64(), dt.datetime: pa.timestamp("s")}
    return {name: pa.repeat(pa.scalar(value, kinds[type(value)]), rows) for name, value in values.items()}
