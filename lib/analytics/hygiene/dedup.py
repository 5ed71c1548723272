"""What a new file is checked against: the phones, e-mails and INNs already stored, each with what holds it.

A row of an uploaded list is a duplicate when its normalised phone, e-mail or INN is held by a CRM contact or
company (``crm_contacts``, ``crm_companies``: the current committed versions, every phone and e-mail of the
"; "-joined lists) or by a list saved before (:mod:`analytics.hygiene.lists`, current versions). All of it is
read once into dicts keyed by the normalised value, so matching 100,000 rows is 100,000 dict look-ups, not a
query per row. Stored phones go through the same :func:`rules.phones` as the file's, so "8 (912) 345-67-89" in
the CRM and "+7 912 3456789" in the file meet as "+79123456789".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from ..crm import store
from ..crm.tables import COMPANIES, CONTACTS
from ..db import Database
from . import rules

#: the key kinds, in the order a row's keys are looked up, with the words a duplicate's "same …" uses
KINDS = {"phone": "phone", "email": "e-mail", "inn": "INN"}
_EPOCH = dt.datetime(1970, 1, 2)


@dataclass(frozen=True)
class Holder:
    """What holds a key ("CRM contact 123 «Анна»", "list «spring» v1, saved 02.03.2026") and since when."""

    what: str
    first_seen: dt.datetime | None


@dataclass
class Stored:
    """Normalised keys → their holder, per kind ("phone", "email", "inn"); the first holder read wins."""

    keys: dict[str, dict[str, Holder]] = field(default_factory=lambda: {kind: {} for kind in KINDS})

    def add(self, kind: str, values: pa.Array | list[str | None], holder: Holder) -> None:
        found = self.keys[kind]
        for value in (values.to_pylist() if isinstance(values, pa.Array) else values):
            if value:
                found.setdefault(value, holder)

    def find(self, kind: str, value: str | None) -> Holder | None:
        return self.keys[kind].get(value) if value else None

    def __len__(self) -> int:
        return sum(len(found) for found in self.keys.values())


def stored_keys(db: Database, region: str = "RU") -> Stored:
    """Every key stored in the CRM tables and saved lists (an empty :class:`Stored` where nothing is stored)."""
    from .lists import list_keys  # lists imports this module's Holder

    stored = Stored()
    tables = set(db.tables())
    for spec, label in ((CONTACTS, "CRM contact"), (COMPANIES, "CRM company")):
        if spec.name in tables and "crm_checkpoints" in tables:
            _add_crm(db, stored, spec, label, region)
    list_keys(db, stored)
    return stored


def _add_crm(db: Database, stored: Stored, spec, label: str, region: str) -> None:  # type: ignore[no-untyped-def]
    """One CRM table's current entities: all phones, all e-mails, the INN; first seen = created, else first version."""
    columns = ["id", "name", "phone", "phones", "email", "emails", "created_at", *(["inn"] if "inn" in spec.columns else [])]
    current = db.query_arrow("SELECT * FROM " + store.current(spec, columns=columns))
    if not current.num_rows:
        return
    first = db.query_arrow("SELECT id, min(updated_at) AS first FROM " + store.committed_rows(spec) + " GROUP BY id")
    first_version = dict(zip(first.column("id").to_pylist(), first.column("first").to_pylist(), strict=True))
    holders = []
    for entity, name, created in zip(current.column("id").to_pylist(), current.column("name").to_pylist(),
                                     current.column("created_at").to_pylist(), strict=True):
        seen = created if created is not None and created >= _EPOCH else first_version.get(entity)
        holders.append(Holder(f"{label} {entity}" + (f" «{name}»" if name else ""), seen))
    for kind, one, many, check in (("phone", "phone", "phones", lambda c: rules.phones(c, region).value),
                                   ("email", "email", "emails", lambda c: rules.emails(c).value)):
        # the list column holds the main value too; the single one counts only where the list is empty
        listed = pc.fill_null(current.column(many).combine_chunks(), "")
        both = pc.if_else(pc.equal(listed, ""), pc.fill_null(current.column(one).combine_chunks(), ""), listed)
        parts = pc.split_pattern(both, "; ")
        owners = pc.list_parent_indices(parts).to_pylist()
        flat = pc.list_flatten(parts)
        distinct = pc.unique(flat)  # each distinct text checked once
        values = pc.take(check(distinct), pc.index_in(flat, distinct)).to_pylist()
        for owner, value in zip(owners, values, strict=True):
            if value:
                stored.keys[kind].setdefault(value, holders[owner])
    if "inn" in columns:
        values = rules.inns(current.column("inn").combine_chunks()).value.to_pylist()
        for owner, value in enumerate(values):
            if value:
                stored.keys["inn"].setdefault(value, holders[owner])
