"""The sales funnel: leads of one amoCRM pipeline created in a period, by stage, conversion, manager, time in stage.

The page shows the leads by their stage now (the main table and the CSV), the funnel of stages reached as
bars, leads by manager as a chart, and the workbook holds every table on its own sheet: by stage, conversion
stage to stage, by manager, time in stage and lost reasons. What each figure means is said under the title.
Before the first CRM load, or for a period without leads, the page says so and what to do.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from ..charts import bar_chart
from ..context import RunContext
from ..crm import funnel as crm
from ..errors import ParameterError
from ..results import Chart, Headline, Notice
from ..words import counted
from .base import ReportQuery, default_period

DAYS = 90
NOT_LOADED = ("No CRM data loaded yet: run the CRM loader (the amoCRM load with leads, managers and pipelines), "
              "then open this report again.")
STAGE_HEADERS = {"stage": "Stage", "leads": "Leads now in the stage", "share": "Share of the leads"}
CONVERSION_HEADERS = {"stage": "Stage", "reached": "Leads that reached it", "next_stage": "Next stage",
                      "reached_next": "Of them, reached the next stage", "conversion": "Conversion to the next stage",
                      "of_all": "Reached it, share of all leads"}
MANAGER_HEADERS = {"manager": "Manager", "leads": "Leads", "won": "Won", "lost": "Lost", "open": "Open",
                   "won_share": "Won, share of the leads", "won_budget": "Budget of the won leads"}
TIME_HEADERS = {"stage": "Stage", "stays": "Stays measured (leads that left the stage)",
                "still_there": "Leads still in the stage", "median_days": "Median time in the stage, days",
                "p90_days": "90% left within, days"}
REASON_HEADERS = {"reason": "Lost reason", "leads": "Leads", "share": "Share of the lost leads"}
_TYPES = {"stage": pa.string(), "next_stage": pa.string(), "manager": pa.string(), "reason": pa.string(),
          "share": pa.float64(), "conversion": pa.float64(), "of_all": pa.float64(), "won_share": pa.float64(),
          "median_days": pa.float64(), "p90_days": pa.float64()}
MEASURED = ("Time in stage is measured from the loaded versions of each lead: a stage is entered when the lead was "
            "created (its first stage) or when a load first saw it there, so a move shows at most one load interval "
            "late, and a stage passed between two loads is not seen. Only finished stays count; the stage a lead is "
            "in now is still running.")
REACHED = ("A lead reached a stage when it was seen in that stage or in a later one, or won; lost leads reached "
           "what they were seen in before they were lost.")


def sales_funnel(ctx: RunContext, start: dt.date | None = None, end: dt.date | None = None,
                 pipeline: int = 0) -> ReportQuery:
    """Leads of a pipeline created in a period: by stage now, conversion, managers, time in stage, lost reasons."""
    db = ctx.db
    if isinstance(pipeline, bool) or not isinstance(pipeline, int) or pipeline < 0:
        raise ParameterError("pipeline", pipeline, "a pipeline from the list")
    known = crm.pipelines(db)
    if not known:
        return _not_loaded()
    chosen = next((item for item in known if item.id == pipeline), None) if pipeline else known[0]
    if chosen is None:
        raise ParameterError("pipeline", pipeline, "there is no such pipeline in the loaded CRM data: choose one "
                                                   "from the list")
    span = crm.created_range(db, chosen.id)
    if end is None:  # the latest creation day loaded: the default period is the last 90 days of loaded data
        end = span[1] if span else dt.date.today()
    start, end = default_period(db, start, end, "", days=DAYS)
    ctx.say("Reading the leads and their stage history")
    leads = crm.read_leads(db, chosen.id, start, end)
    history = crm.read_history(db, chosen.id, start, end)
    result = crm.compute(chosen, leads, history, crm.manager_names(db))
    title = f"Sales funnel of {chosen.name}: leads created from {start:%d.%m.%Y} to {end:%d.%m.%Y}"
    common = {"key_params": {"pipeline": chosen.name, "from": start, "to": end},
              "effective": {"start": start, "end": end, "pipeline": chosen.id}}
    if not leads:
        return ReportQuery(name="sales_funnel", title=title, sql="", data=_table([], STAGE_HEADERS),
                           headers=STAGE_HEADERS, row_noun=("lead", "leads"), empty_text=_nothing_text(span),
                           **common)
    return ReportQuery(
        name="sales_funnel", title=title, sql="", data=_table(result.by_stage, STAGE_HEADERS), headers=STAGE_HEADERS,
        label="By stage", shares=("share", "conversion", "of_all", "won_share"), row_noun=None,
        facts=_facts(result), notices=_notices(result),
        funnel=_steps(result), funnel_unit="Leads that reached it", charts=_charts(result),
        headline=Headline(f"Won leads of {chosen.name}, created {start:%d.%m.%Y}–{end:%d.%m.%Y}", result.won / result.leads,
                          "%", text=f"{result.won:,} of {counted(result.leads, 'lead')} won, {result.lost:,} lost"),
        sheets=_sheets(result), **common)


def _steps(result: crm.Funnel) -> tuple[tuple[str, int, int], ...]:
    """The funnel's bars: the leads created, then those that reached each stage and how many of the step before did
    not (a first bar of all leads, so the leads lost before any stage was seen read as left out at the first stage)."""
    before = [result.leads] + [row["reached"] for row in result.conversion]
    return (("Leads created", result.leads, 0), *((row["stage"], row["reached"], previous - row["reached"])
                                                  for row, previous in zip(result.conversion, before, strict=False)))


def _sheets(result: crm.Funnel) -> tuple[ReportQuery, ...]:
    """The workbook's further tables; lost reasons only when a lead was lost."""
    sheets = [_sheet("sales_funnel_conversion", "Conversion", result.conversion, CONVERSION_HEADERS),
              _sheet("sales_funnel_managers", "By manager", result.managers, MANAGER_HEADERS),
              _sheet("sales_funnel_time", "Time in stage", result.time_in_stage, TIME_HEADERS)]
    if result.lost_reasons:
        sheets.append(_sheet("sales_funnel_lost", "Lost reasons", result.lost_reasons, REASON_HEADERS))
    return tuple(sheets)


def _not_loaded() -> ReportQuery:
    return ReportQuery(name="sales_funnel", title="Sales funnel", sql="", data=_table([], STAGE_HEADERS),
                       headers=STAGE_HEADERS, notices=(Notice("yellow", NOT_LOADED),), row_noun=("lead", "leads"),
                       empty_text="Nothing has been loaded from amoCRM into this store yet.")


def _nothing_text(span: tuple[dt.date, dt.date] | None) -> str:
    if span is None:
        return "This pipeline has no leads in the loaded CRM data yet: run the CRM loader, or choose another pipeline."
    return (f"Leads of this pipeline were created from {span[0]:%d.%m.%Y} to {span[1]:%d.%m.%Y}: choose days in "
            "between, or run the CRM loader for newer leads.")


def _table(rows: list[dict[str, Any]], headers: dict[str, str]) -> pa.Table:
    schema = pa.schema([(name, _TYPES.get(name, pa.int64())) for name in headers])
    return pa.Table.from_pylist(rows, schema=schema)


def _sheet(name: str, label: str, rows: list[dict[str, Any]], headers: dict[str, str]) -> ReportQuery:
    return ReportQuery(name=name, title=label, sql="", data=_table(rows, headers), headers=headers, label=label)


def _facts(result: crm.Funnel) -> list[str]:
    facts = [f"{counted(result.leads, 'lead')} created in the period: {result.won:,} won, {result.lost:,} lost, "
             f"{result.leads - result.won - result.lost:,} open; budget of the won leads {result.won_budget:,}.", REACHED]
    if result.lost_reasons:
        top = result.lost_reasons[0]
        facts.append(f"The most common lost reason: {top['reason']} ({top['leads']:,} of {result.lost:,}). "
                     "Every reason is on the sheet \"Lost reasons\".")
    facts.append(MEASURED)
    return facts


def _notices(result: crm.Funnel) -> tuple[Notice, ...]:
    if not result.unknown_stages:
        return ()
    return (Notice("info", f"{counted(result.unknown_stages, 'lead')} {'is' if result.unknown_stages == 1 else 'are'} "
                           "in a stage the pipeline no longer lists (deleted in amoCRM, or the stages were not loaded "
                           "since): shown by its number, after the working stages."),)


def _charts(result: crm.Funnel) -> tuple[Chart, ...]:
    if not result.managers:
        return ()
    shown = result.managers[:15]
    return (bar_chart({row["manager"]: row["leads"] for row in shown},
                      "Leads by manager" + (" (the 15 with the most)" if len(result.managers) > 15 else "")),
            bar_chart({row["manager"]: row["won"] for row in shown}, "Won leads by manager"))
