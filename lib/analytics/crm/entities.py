"""What the loader brings in from amoCRM, one :class:`Entity` per stream, in the order a load takes them.

Leads, contacts and companies are long lists read by update time (``order[updated_at]=asc``), so a load can
resume from a cursor and a later load can ask only for what changed. Deleted leads come from their own list
(``with=only_deleted``, a reduced model: id, update time, deleted). Users and the pipelines with their stages
are short: each load reads them whole, and a change of what is stored is a new version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..db import TableSpec
from . import fields
from .tables import COMPANIES, CONTACTS, LEADS, STATUSES, USERS

Rows = Callable[[list[Mapping[str, Any]], dt.datetime], list[dict[str, Any]]]


@dataclass(frozen=True)
class Entity:
    """One stream of the API into one table.

    ``by_time``: the list is read in update-time order with a cursor (resumable, and loadable as changes);
    otherwise it is read whole each time and compared by ``fingerprint``. ``key`` names an entity in its table.
    """

    name: str
    words: str  # how a person reads it on the page ("deleted leads")
    table: TableSpec
    path: str
    embedded: str
    rows: Rows
    by_time: bool = True
    key: tuple[str, ...] = ("id",)
    params: Mapping[str, str] = field(default_factory=dict)
    paged: bool = True


def _each(build: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Rows:
    return lambda items, seen_at: [build(item) for item in items]


def _deleted_lead(item: Mapping[str, Any]) -> dict[str, Any]:
    return fields.lead_row({**item, "is_deleted": True})


ENTITIES: dict[str, Entity] = {entity.name: entity for entity in [
    Entity("users", "managers", USERS, "/api/v4/users", "users",
           lambda items, seen_at: [fields.user_row(item, seen_at) for item in items], by_time=False),
    Entity("pipelines", "pipeline stages", STATUSES, "/api/v4/leads/pipelines", "pipelines",
           lambda items, seen_at: [row for item in items for row in fields.status_rows(item, seen_at)],
           by_time=False, key=("pipeline_id", "id"), paged=False),
    Entity("leads", "leads", LEADS, "/api/v4/leads", "leads", _each(fields.lead_row),
           params={"with": "contacts,loss_reason"}),
    Entity("deleted_leads", "deleted leads", LEADS, "/api/v4/leads", "leads", _each(_deleted_lead),
           params={"with": "only_deleted"}),
    Entity("contacts", "contacts", CONTACTS, "/api/v4/contacts", "contacts", _each(fields.contact_row)),
    Entity("companies", "companies", COMPANIES, "/api/v4/companies", "companies", _each(fields.company_row)),
]}

# What a person picks in the form: deleted leads come with leads.
CHOICES = {"leads": ("leads", "deleted_leads"), "contacts": ("contacts",), "companies": ("companies",),
           "users": ("users",), "pipelines": ("pipelines",)}


def streams(chosen: list[str] | tuple[str, ...]) -> list[Entity]:
    """The streams of the chosen entities, managers and stages first (the funnel reads leads through them)."""
    wanted = {name for choice in chosen for name in CHOICES[choice]}
    return [entity for name, entity in ENTITIES.items() if name in wanted]
