"""Reading what the loader stored: committed versions only, the latest per entity.

Every reader of ``crm_*`` goes through :func:`current` (one SQL shape for ClickHouse 18.16 and chDB): rows of
batches a checkpoint commits, the latest version per key by update time (``LIMIT 1 BY``, no ``FINAL``), and,
unless asked, without the entities whose latest version says they were deleted.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..db import Database, TableSpec
from ..db.sql import compose, identifier
from .tables import LEDGER


def _names(spec: TableSpec, key: tuple[str, ...]) -> dict[str, Any]:
    names: dict[str, Any] = {"t": identifier(spec.name, [spec.name], kind="table")}
    if key:
        names["k"] = [identifier(name, spec.columns, table=spec.name) for name in key]
    return names


def committed_rows(spec: TableSpec) -> str:
    """``FROM``-able SQL: every committed version of the table (its rows whose batch a checkpoint names)."""
    return compose("(SELECT * FROM {t} WHERE ", **_names(spec, ())) + LEDGER.committed() + ")"


def current(spec: TableSpec, key: tuple[str, ...] = ("id",), columns: list[str] | None = None, *,
            deleted: bool = False) -> str:
    """``FROM``-able SQL: the latest committed version of each entity (deleted ones only with ``deleted``)."""
    wanted = columns or list(spec.columns)
    inner = list(dict.fromkeys([*wanted, *key, "updated_at", "loaded_at", "is_deleted"]))
    checked = {name: identifier(name, spec.columns, table=spec.name) for name in inner}
    names = _names(spec, key)
    latest = compose("(SELECT {c} FROM {t} WHERE ", c=list(checked.values()), **names) + LEDGER.committed() + compose(
        " ORDER BY updated_at DESC, loaded_at DESC LIMIT 1 BY {k})", **names)
    chosen = [checked[name] for name in wanted]
    return compose("(SELECT {c} FROM ", c=chosen) + latest + ("" if deleted else " WHERE is_deleted = 0") + ")"


def current_count(db: Database, spec: TableSpec, key: tuple[str, ...] = ("id",)) -> tuple[int, int]:
    """(entities current, entities whose latest version is deleted); (0, 0) before the first load."""
    if spec.name not in db.tables():
        return 0, 0
    row = db.query_arrow("SELECT countIf(is_deleted = 0) AS live, countIf(is_deleted = 1) AS gone FROM "
                         + current(spec, key, [*key, "is_deleted"], deleted=True)).to_pylist()[0]
    return int(row["live"] or 0), int(row["gone"] or 0)


def stored_versions(db: Database, spec: TableSpec, key: tuple[str, ...], low: dt.datetime,
                    high: dt.datetime) -> set[tuple[Any, ...]]:
    """(key…, updated_at) of the committed versions changed between ``low`` and ``high``: what a batch need not write."""
    columns = [identifier(name, spec.columns, table=spec.name) for name in (*key, "updated_at")]
    sql = (compose("SELECT {c} FROM {t} WHERE updated_at >= %(low)s AND updated_at <= %(high)s AND ", c=columns,
                   **_names(spec, ())) + LEDGER.committed())
    return {tuple(row.values()) for row in db.query_arrow(sql, {"low": low, "high": high}).to_pylist()}


def current_fingerprints(db: Database, spec: TableSpec, key: tuple[str, ...]) -> dict[tuple[Any, ...], str]:
    """The stored fingerprint of each entity read whole (users, stages), deleted ones as ''."""
    if spec.name not in db.tables():
        return {}
    rows = db.query_arrow("SELECT * FROM " + current(spec, key, [*key, "fingerprint", "is_deleted"], deleted=True))
    return {tuple(row[name] for name in key): ("" if row["is_deleted"] else row["fingerprint"])
            for row in rows.to_pylist()}
