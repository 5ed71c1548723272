"""Named lists of choices that come from the warehouse: partners today; experiments, regions and more next.

A parameter declared ``Lookup[partners]`` shows a dropdown of these options, and ``resolve``
accepts only a value among them, whether it came from the form, a shared link or
``analytics run``. The SQL lives here, once per source, made of checked names only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..db import Database, compose, identifier
from ..errors import ConfigError
from .schema import column, spec

Option = tuple[str, Any]  # (label a person reads, value the report gets)


@dataclass(frozen=True)
class LookupSource:
    """Where the options of a lookup come from: a value column and a label column of one catalog table."""

    name: str
    table: str
    value: str
    label: str
    noun: str  # "partner": for messages ("there is no partner with this value")
    blank: Option | None = None  # an extra first option meaning "let the report choose", if the report allows it

    @property
    def sql(self) -> str:
        table = identifier(self.table, [spec(self.table).name], kind="table")
        return compose("SELECT {v} AS value, any({l}) AS label FROM {t} GROUP BY {v} ORDER BY label, value",
                       v=column(self.table, self.value), l=column(self.table, self.label), t=table)


LOOKUPS: dict[str, LookupSource] = {source.name: source for source in [
    LookupSource("partners", "partners", "partner_id", "name", "partner", blank=("(the partner with the most cards)", 0)),
    LookupSource("experiments", "experiment_assignments", "experiment", "experiment", "experiment",
                 blank=("(the latest experiment)", "")),
    LookupSource("regions", "users", "region", "region", "region"),
    LookupSource("os", "users", "os", "os", "operating system"),
    LookupSource("device_models", "users", "device_model", "device_model", "device model"),
    LookupSource("carriers", "users", "carrier", "carrier", "mobile carrier"),
    LookupSource("pushes", "pushes", "push_id", "title", "push"),
]}


def lookup_source(name: str) -> LookupSource:
    if name not in LOOKUPS:
        raise ConfigError(f"There is no lookup named '{name}'; known: {', '.join(LOOKUPS)}.")
    return LOOKUPS[name]


class Lookups:
    """The options of every lookup, read from one database once per instance (one page, one run)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, list[Option]] = {}

    def __call__(self, name: str) -> list[Option]:
        if name not in self._cache:
            source = lookup_source(name)
            rows = self.db.query_arrow(source.sql).to_pylist()
            found = [(str(row["label"]), row["value"]) for row in rows]
            self._cache[name] = ([source.blank] if source.blank else []) + found
        return self._cache[name]


OptionsProvider = Callable[[str], list[Option]]
