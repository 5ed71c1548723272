"""The sales funnel of one pipeline, computed from what the amoCRM loader stored.

A stage is (pipeline, status): statuses 142 (won) and 143 (lost) exist in every pipeline. The working stages
are ordered by their ``sort``, won and lost come last. A lead's stage history comes from its stored versions
(one per change the loader saw), ordered by update time: the first version's stage was entered when the lead
was created, and each later version in another stage entered it at that version's update time. The loader
sees a lead only when it loads, so a stage change is known at most one load interval late, and a lead that
passed through a stage between two loads never shows that stage (it still counts as having reached it: it
reached a later one).

Reading (:func:`pipelines`, :func:`read_leads`, :func:`read_history`, :func:`manager_names`) goes through
:mod:`analytics.crm.store`, committed versions only; :func:`compute` is pure and turns what was read into
the report's tables.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..db import Database
from . import store
from .tables import LEADS, STATUSES, USERS

WON, LOST = 142, 143
UNSORTED = 1  # a status's ``type`` for the pipeline's "unsorted" (incoming) stage
DAY = 86_400.0


@dataclass(frozen=True)
class Stage:
    id: int
    name: str
    sort: int
    kind: str  # "working", "won" or "lost"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline with its stages in funnel order: working stages by ``sort``, then won, then lost."""

    id: int
    name: str
    is_main: bool
    sort: int
    stages: tuple[Stage, ...]

    @property
    def working(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if stage.kind == "working")

    def rank(self, status_id: int) -> int:
        """1…n for the working stages in order, n + 1 for won; 0 for lost and for a stage the pipeline no longer has."""
        working = [stage.id for stage in self.working]
        if status_id == WON:
            return len(working) + 1
        return working.index(status_id) + 1 if status_id in working else 0

    def stage_name(self, status_id: int) -> str:
        for stage in self.stages:
            if stage.id == status_id:
                return stage.name
        return f"Stage {status_id} (no longer in the pipeline)"


def loaded(db: Database) -> bool:
    """Whether the loader has stored leads and the pipelines (the funnel needs both)."""
    tables = set(db.tables())
    return LEADS.name in tables and STATUSES.name in tables


def pipelines(db: Database) -> list[Pipeline]:
    """The current pipelines, main first, then by their order in amoCRM; none before the first load."""
    if not loaded(db):
        return []
    rows = db.query_arrow("SELECT pipeline_id, id, name, sort, pipeline_name, pipeline_sort, is_main FROM "
                          + store.current(STATUSES, ("pipeline_id", "id"))
                          + " ORDER BY pipeline_id, sort, id").to_pylist()
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[int(row["pipeline_id"])].append(row)
    found = []
    for pipeline_id, stages in grouped.items():
        ordered = sorted(stages, key=lambda row: (row["id"] in (WON, LOST), row["id"] == LOST, row["sort"], row["id"]))
        first = stages[0]
        found.append(Pipeline(pipeline_id, str(first["pipeline_name"]) or f"Pipeline {pipeline_id}",
                              bool(first["is_main"]), int(first["pipeline_sort"]), tuple(
                                  Stage(int(row["id"]), str(row["name"]) or f"Stage {row['id']}", int(row["sort"]),
                                        {WON: "won", LOST: "lost"}.get(int(row["id"]), "working"))
                                  for row in ordered)))
    return sorted(found, key=lambda pipeline: (not pipeline.is_main, pipeline.sort, pipeline.id))


def pipeline_options(db: Database) -> list[tuple[str, int]]:
    """The pipelines as a dropdown offers them: (name, id)."""
    return [(f"{pipeline.name} (main)" if pipeline.is_main else pipeline.name, pipeline.id)
            for pipeline in pipelines(db)]


_IN_PERIOD = (" WHERE pipeline_id = %(pipeline)s AND created_at >= toDateTime(toDate(%(start)s))"
              " AND created_at < toDateTime(toDate(%(end)s)) + 86400")


@dataclass(frozen=True)
class Lead:
    id: int
    status_id: int
    responsible_user_id: int
    price: int
    loss_reason: str
    created_at: dt.datetime


def _period(pipeline_id: int, start: dt.date, end: dt.date) -> dict[str, Any]:
    return {"pipeline": pipeline_id, "start": start, "end": end}


def read_leads(db: Database, pipeline_id: int, start: dt.date, end: dt.date) -> list[Lead]:
    """The current leads of the pipeline created from ``start`` to ``end`` (UTC days), deleted ones left out."""
    sql = ("SELECT id, status_id, responsible_user_id, price, loss_reason, created_at FROM " + store.current(LEADS)
           + _IN_PERIOD + " ORDER BY id")
    return [Lead(int(row["id"]), int(row["status_id"]), int(row["responsible_user_id"]), int(row["price"]),
                 str(row["loss_reason"]), row["created_at"])
            for row in db.query_arrow(sql, _period(pipeline_id, start, end)).to_pylist()]


Version = tuple[dt.datetime, int, int]  # (updated_at, pipeline_id, status_id)


def read_history(db: Database, pipeline_id: int, start: dt.date, end: dt.date) -> dict[int, list[Version]]:
    """Every committed version of those leads (deletion marks left out), oldest first, per lead."""
    sql = ("SELECT id, updated_at, pipeline_id, status_id FROM " + store.committed_rows(LEADS)
           + " WHERE is_deleted = 0 AND id IN (SELECT id FROM " + store.current(LEADS) + _IN_PERIOD + ")")
    history: dict[int, dict[dt.datetime, Version]] = defaultdict(dict)
    for row in db.query_arrow(sql, _period(pipeline_id, start, end)).to_pylist():
        history[int(row["id"])][row["updated_at"]] = (row["updated_at"], int(row["pipeline_id"]), int(row["status_id"]))
    return {lead: [versions[moment] for moment in sorted(versions)] for lead, versions in history.items()}


def manager_names(db: Database) -> dict[int, str]:
    """Each manager's latest name, managers since removed from the account included (their deletion has no name)."""
    if USERS.name not in db.tables():
        return {}
    rows = db.query_arrow("SELECT id, argMax(name, updated_at) AS latest FROM " + store.committed_rows(USERS)
                          + " WHERE name != '' GROUP BY id").to_pylist()
    return {int(row["id"]): str(row["latest"]) for row in rows}


def created_range(db: Database, pipeline_id: int) -> tuple[dt.date, dt.date] | None:
    """The first and last creation day of the pipeline's current leads; None when it has none."""
    row = db.query_arrow("SELECT count() AS n, min(created_at) AS first, max(created_at) AS last FROM "
                         + store.current(LEADS) + " WHERE pipeline_id = %(pipeline)s",
                         {"pipeline": pipeline_id}).to_pylist()[0]
    if not row["n"]:
        return None
    return row["first"].date(), row["last"].date()


# --- the computation ----------------------------------------------------------------------------------------------

def entries(created_at: dt.datetime, versions: Iterable[Version]) -> list[tuple[tuple[int, int], dt.datetime]]:
    """When the lead entered each stage it was seen in: ((pipeline, status), moment), oldest first."""
    found: list[tuple[tuple[int, int], dt.datetime]] = []
    for updated_at, pipeline_id, status_id in versions:
        stage = (pipeline_id, status_id)
        if not found:
            found.append((stage, created_at))
        elif stage != found[-1][0]:
            found.append((stage, updated_at))
    return found


def stays(created_at: dt.datetime, versions: Iterable[Version]) -> list[tuple[tuple[int, int], float]]:
    """Each finished stay in a stage and its length in days (the stage the lead is in now has not ended)."""
    seen = entries(created_at, versions)
    return [(stage, max((left - entered).total_seconds(), 0.0) / DAY)
            for (stage, entered), (_, left) in zip(seen, seen[1:], strict=False)]


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation between the closest ranks (numpy's and pandas' default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Funnel:
    """The report's tables as rows (plain dicts), in the order the report shows them."""

    pipeline: Pipeline
    leads: int = 0
    by_stage: list[dict[str, Any]] = field(default_factory=list)
    conversion: list[dict[str, Any]] = field(default_factory=list)
    managers: list[dict[str, Any]] = field(default_factory=list)
    time_in_stage: list[dict[str, Any]] = field(default_factory=list)
    lost_reasons: list[dict[str, Any]] = field(default_factory=list)
    unknown_stages: int = 0  # leads now in a stage the pipeline no longer lists
    won: int = 0
    lost: int = 0
    won_budget: int = 0


def compute(pipeline: Pipeline, leads: list[Lead], history: Mapping[int, list[Version]],
            names: Mapping[int, str]) -> Funnel:
    """Every table of the report from the leads created in the period and their versions."""
    funnel = Funnel(pipeline, leads=len(leads))
    total = len(leads) or 1
    now = Counter(lead.status_id for lead in leads)
    known = {stage.id for stage in pipeline.stages}
    extra = sorted(status for status in now if status not in known)
    funnel.unknown_stages = sum(now[status] for status in extra)
    order = [*pipeline.working, *(Stage(status, pipeline.stage_name(status), 0, "working") for status in extra),
             *(stage for stage in pipeline.stages if stage.kind != "working")]
    funnel.by_stage = [{"stage": stage.name, "leads": now[stage.id], "share": now[stage.id] / total} for stage in order]
    funnel.won, funnel.lost = now[WON], now[LOST]
    funnel.won_budget = sum(lead.price for lead in leads if lead.status_id == WON)

    furthest = []
    for lead in leads:
        seen = [status for _, pipeline_id, status in history.get(lead.id, ()) if pipeline_id == pipeline.id]
        seen.append(lead.status_id)
        furthest.append(max(pipeline.rank(status) for status in seen))
    steps = [*pipeline.working, *(stage for stage in pipeline.stages if stage.kind == "won")]
    reached = [sum(1 for rank in furthest if rank >= index) for index in range(1, len(steps) + 1)]
    for index, stage in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        funnel.conversion.append({
            "stage": stage.name, "reached": reached[index],
            "next_stage": following.name if following else "",
            "reached_next": reached[index + 1] if following else None,
            "conversion": (reached[index + 1] / reached[index] if following and reached[index] else None),
            "of_all": reached[index] / total if leads else None})

    per_manager: dict[int, list[Lead]] = defaultdict(list)
    for lead in leads:
        per_manager[lead.responsible_user_id].append(lead)
    for manager, own in per_manager.items():
        won = [lead for lead in own if lead.status_id == WON]
        lost = sum(1 for lead in own if lead.status_id == LOST)
        funnel.managers.append({
            "manager": names.get(manager) or (f"Manager {manager}" if manager else "Nobody"), "leads": len(own),
            "won": len(won), "lost": lost, "open": len(own) - len(won) - lost, "won_share": len(won) / len(own),
            "won_budget": sum(lead.price for lead in won)})
    funnel.managers.sort(key=lambda row: (-row["leads"], -row["won"], row["manager"]))

    durations: dict[int, list[float]] = defaultdict(list)
    for lead in leads:
        for (pipeline_id, status), days in stays(lead.created_at, history.get(lead.id, ())):
            if pipeline_id == pipeline.id:
                durations[status].append(days)
    for stage in order:
        if stage.kind != "working":
            continue
        measured = durations.get(stage.id, [])
        funnel.time_in_stage.append({
            "stage": stage.name, "stays": len(measured), "still_there": now[stage.id],
            "median_days": round(quantile(measured, 0.5), 1) if measured else None,
            "p90_days": round(quantile(measured, 0.9), 1) if measured else None})

    reasons = Counter(lead.loss_reason or "No reason given" for lead in leads if lead.status_id == LOST)
    funnel.lost_reasons = [{"reason": reason, "leads": count, "share": count / funnel.lost}
                           for reason, count in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))]
    return funnel
