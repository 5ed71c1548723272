"""What every report returns, and the defaults reports share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..db import Database
from ..errors import ParameterError


@dataclass(frozen=True)
class Chart:
    """A picture shown with the result, where a person would rather look than read."""

    title: str  # also the image's alternative text
    png: bytes


@dataclass(frozen=True)
class Notice:
    """A line shown above everything else, coloured by how much it matters ("red": do not trust the rest)."""

    level: str  # "red", "yellow", "ok" or "info"
    text: str


@dataclass(frozen=True)
class ReportQuery:
    """One report run's query and how to present it."""

    name: str  # file names start with it
    title: str  # one sentence for a person: what the rows are
    sql: str  # values as %(name)s, identifiers already checked
    params: dict[str, Any] = field(default_factory=dict)
    key_params: dict[str, Any] = field(default_factory=dict)  # what the file name carries
    headers: dict[str, str] = field(default_factory=dict)  # column labels in the files
    facts: list[str] = field(default_factory=list)  # extra lines under the title (rates, totals)
    # the values the report actually used for declared parameters it filled in (an empty end: the latest day),
    # so the declared rules (at most 92 days) hold for defaulted values too
    effective: dict[str, Any] = field(default_factory=dict)
    data: pa.Table | None = None  # rows computed in memory (an audience not saved yet); then ``sql`` is ""
    formats: tuple[str, ...] = ()  # this result's file formats; empty: the run's own (XLSX and CSV)
    label: str = ""  # names this result's files on the page ("Control group") when a run has several
    also: tuple[ReportQuery, ...] = ()  # further results exported beside this one, each into its own files
    funnel: tuple[tuple[str, int, int], ...] = ()  # steps shown as bars: (what, people still in, left out here)
    sheets: tuple[ReportQuery, ...] = ()  # further tables in this result's XLSX, each on a sheet titled by its label
    charts: tuple[Chart, ...] = ()
    notices: tuple[Notice, ...] = ()  # gates shown first (an A/B test's sample-ratio check)


def default_period(db: Database, start: dt.date | None, end: dt.date | None, latest_sql: str,
                   days: int = 30) -> tuple[dt.date, dt.date]:
    """Fill an empty end with the latest day that has data, an empty start with ``days`` before the end."""
    if end is None:
        end = db.scalar(latest_sql) or dt.date.today()
        if isinstance(end, dt.datetime):
            end = end.date()
    if start is None:
        start = end - dt.timedelta(days=days - 1)
    if start > end:
        raise ParameterError("start", start.isoformat(), f"a day on or before the last day ({end:%d.%m.%Y})")
    return start, end


def partner_name(db: Database, partner_id: int) -> str:
    name = db.scalar("SELECT name FROM partners WHERE partner_id = %(p)s", {"p": partner_id})
    if name is None:
        raise ParameterError("partner_id", partner_id, "there is no partner with this number")
    return str(name)


def biggest_partner(db: Database) -> int:
    return int(db.scalar("SELECT partner_id FROM cards GROUP BY partner_id ORDER BY count() DESC LIMIT 1") or 0)
