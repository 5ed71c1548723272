"""What a report gives back: a result to show and export, or a plan of what it would write and its commit.

A low module (it imports no report, no statistics library): the pipeline, the renderers and ``analytics run``
use these types without loading every report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from .context import RunContext


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
class Headline:
    """The one figure a report stands for: its tile on the home page and the first line of a delivered message.

    A report declares it from the rows it already read (no second query), so the tile and the report agree
    for the same parameters. ``value`` is the figure; ``compared`` what it is set against ("the same weekday
    last week") so a person sees the change without doing sums; ``trend`` the small line; ``data_until`` the
    newest moment of data the figure covers, from which the home page tells a late source.
    """

    label: str  # "Plastic cards issued on 14.11.2026"
    value: float | None  # None: nothing to count (the text says why)
    unit: str = ""  # "" (a count), "%" (value is a share 0..1), or a word ("people")
    compared_label: str = ""  # "same weekday last week"
    compared_value: float | None = None
    trend: tuple[tuple[dt.date, float], ...] = ()  # (day, value), oldest first
    data_until: dt.datetime | dt.date | None = None
    text: str = ""  # a verdict in words, for figures that are not numbers ("B is better: +3.1% conversion")

    def as_json(self) -> dict[str, Any]:
        """Plain JSON types: the executed notebook's run record and the stored tile carry it."""
        until = self.data_until.isoformat() if self.data_until is not None else None
        return {"label": self.label, "value": self.value, "unit": self.unit, "compared_label": self.compared_label,
                "compared_value": self.compared_value, "trend": [[day.isoformat(), value] for day, value in self.trend],
                "data_until": until, "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Headline:
        until = data.get("data_until")
        parsed = (dt.datetime.fromisoformat(until) if until and "T" in until
                  else dt.date.fromisoformat(until) if until else None)
        return cls(label=data["label"], value=data.get("value"), unit=data.get("unit", ""),
                   compared_label=data.get("compared_label", ""), compared_value=data.get("compared_value"),
                   trend=tuple((dt.date.fromisoformat(day), value) for day, value in data.get("trend", [])),
                   data_until=parsed, text=data.get("text", ""))


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
    funnel_unit: str = "People"  # the funnel's column of counts ("Leads")
    sheets: tuple[ReportQuery, ...] = ()  # further tables in this result's XLSX, each on a sheet titled by its label
    charts: tuple[Chart, ...] = ()
    notices: tuple[Notice, ...] = ()  # gates shown first (an A/B test's sample-ratio check)
    headline: Headline | None = None  # the figure this result stands for (home-page tile, delivered message)
    # what one row is, singular and plural ("card", "cards"), for the count above the preview; None: the result
    # is not a list (an A/B summary's metrics, a recalculation's days) and no count is shown
    row_noun: tuple[str, str] | None = ("row", "rows")
    # columns (by their names in ``sql``/``data``) that hold shares 0..1: the page shows 0.123 as "12.3%"; a column
    # whose label already ends in "%" holds percents and is shown as a plain number
    shares: tuple[str, ...] = ()
    # what the page says when no row matched, after "No cards in this period.": where the data starts or what to
    # change ("The data starts on 02.06.2026."); the report knows it from what it read, without a second query
    empty_text: str = ""


@dataclass(frozen=True)
class WritePlan:
    """What a report would write, computed while nothing is written, and the step that writes it.

    The pipeline checks Cancel before :attr:`commit`, runs it outside the read snapshot with the run's writer,
    audits it as a ``write`` (or its failure) and then exports the :class:`ReportQuery` the commit returns,
    which reads what was committed. ``what`` says it in words ("audience spring_push version 2, 12,345
    people"): the audit row's report and the page's sentence after a save that Cancel came too late for.
    """

    what: str
    target: str  # the audit row's report: what is written ("audience:spring_push")
    commit: Callable[[RunContext], ReportQuery]
    rows: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)
    audits_itself: bool = False  # the commit writes its own ``write`` rows (a recalculation: one per day swapped)


Result = ReportQuery | WritePlan
