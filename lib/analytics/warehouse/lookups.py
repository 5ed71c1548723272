"""Named lists of choices that come from the warehouse: partners, pushes, experiments, regions, raffles.

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
    """Where the options of a lookup come from: a value column and a label column of one catalog table.

    A list a plain ``SELECT value, label`` cannot give (a push's title with its date, the raffles set up in
    two tables) names a ``read`` function instead; ``numeric`` then says whether its values are numbers.
    """

    name: str
    table: str
    value: str
    label: str
    noun: str  # "partner": for messages ("there is no partner with this value")
    blank: Option | None = None  # an extra first option meaning "let the report choose", if the report allows it
    read: Callable[[Database], list[Option]] | None = None
    numeric: bool | None = None  # None: as the table's value column
    empty: str = ""  # what to say when the list has nothing to choose (how to get something into it)

    @property
    def is_numeric(self) -> bool:
        if self.numeric is not None:
            return self.numeric
        return str(spec(self.table).columns[self.value]).startswith(("UInt", "Int"))

    def options(self, db: Database) -> list[Option]:
        if self.read is not None:
            return self.read(db)
        return [(str(row["label"]), row["value"]) for row in db.query_arrow(self.sql).to_pylist()]

    @property
    def sql(self) -> str:
        table = identifier(self.table, [spec(self.table).name], kind="table")
        return compose("SELECT {v} AS value, any({l}) AS label FROM {t} GROUP BY {v} ORDER BY label, value",
                       v=column(self.table, self.value), l=column(self.table, self.label), t=table)


def _pushes(db: Database) -> list[Option]:
    """Newest first, each as a person recognises it: "15.11.2026 · Cashback 10% today (sub_id 20261115_1_10039)".

    The first option, "The latest push: …", names it, so a person sees which push an untouched form reports on.
    """
    rows = db.query_arrow("SELECT push_id, any(title) AS title, any(sub_id) AS sub_id, max(created_at) AS created"
                          " FROM pushes GROUP BY push_id ORDER BY created DESC, push_id DESC").to_pylist()
    options = [(f"{row['created']:%d.%m.%Y} · {row['title']} (sub_id {row['sub_id']})", row["push_id"]) for row in rows]
    return [(f"The latest push: {options[0][0]}", 0), *options] if options else []


def _raffles(db: Database) -> list[Option]:
    """The raffles an analyst set up (``analytics raffle-setup``), by name; none before the first setup."""
    from ..raffle.setup import known_raffles  # noqa: PLC0415 - the raffle package reads these lists too

    return [(name, name) for name in known_raffles(db)]


def _crm_pipelines(db: Database) -> list[Option]:
    """amoCRM's pipelines as the loader stored them, the main one marked; none before the first CRM load."""
    from ..crm.funnel import pipeline_options  # noqa: PLC0415 - the CRM package reads the warehouse's lists too

    return list(pipeline_options(db))


LOOKUPS: dict[str, LookupSource] = {source.name: source for source in [
    LookupSource("partners", "partners", "partner_id", "name", "partner", blank=("The partner with the most cards", 0)),
    LookupSource("partners_or_all", "partners", "partner_id", "name", "partner", blank=("All partners", 0)),
    LookupSource("experiments", "experiment_assignments", "experiment", "experiment", "experiment",
                 blank=("The latest experiment", "")),
    LookupSource("regions", "users", "region", "region", "region"),
    LookupSource("os", "users", "os", "os", "operating system"),
    LookupSource("device_models", "users", "device_model", "device_model", "device model"),
    LookupSource("carriers", "users", "carrier", "carrier", "mobile carrier"),
    LookupSource("pushes", "pushes", "push_id", "title", "push", read=_pushes,  # its first option: the latest
                 empty="no push has been sent yet"),
    LookupSource("raffles", "raffle_setups", "raffle", "raffle", "raffle", read=_raffles, numeric=False,
                 empty="no raffle is set up yet: an analyst sets one up with `analytics raffle-setup NAME`"),
    LookupSource("crm_pipelines", "crm_statuses", "pipeline_id", "pipeline_name", "pipeline", read=_crm_pipelines,
                 numeric=True, blank=("The main pipeline", 0)),
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
            self._cache[name] = ([source.blank] if source.blank else []) + source.options(self.db)
        return self._cache[name]


OptionsProvider = Callable[[str], list[Option]]
