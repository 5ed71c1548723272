"""The CRM loader's report: load amoCRM into the ``crm_*`` tables, then say what came in and what the store holds.

The plan names the load; its commit runs :class:`analytics.crm.loader.Loader` with the run's writer, status
line and Stop. A block (403 or nginx's HTML page) stops the load at once: what was read before it is
committed, the home remembers the block so no later load asks again (:mod:`analytics.crm.block`), and the
on-call channel hears of it once: a scheduled run fails, and its job's failure alert says so; a run from the
form sends the alert itself.
"""

from __future__ import annotations

import pyarrow as pa

from ..alerts import Alert, alert_id, deliver
from ..clients.amocrm import BLOCKED, AmoCRMBlocked, amocrm_for
from ..context import RunContext
from ..crm.block import StillBlocked, block_mark
from ..crm.entities import CHOICES, streams
from ..crm.loader import OVERLAP, Loader, StreamResult, utc_now
from ..results import Notice
from ..words import counted
from .base import ReportQuery, WritePlan

TARGET = "crm:amocrm"
HEADERS = {"what": "What", "load": "Load", "pages": "Pages read", "listed": "Listed by amoCRM",
           "written": "New versions stored", "inserts": "Inserts into ClickHouse", "live": "Current in the store",
           "gone": "Marked deleted", "outcome": "Outcome"}


def load_crm(ctx: RunContext, mode: str = "changes", entities: list[str] | None = None,
             block_lifted: bool = False) -> WritePlan | ReportQuery:
    """Load the chosen entities from amoCRM: everything (``full``) or what changed since the last load."""
    chosen = list(entities or CHOICES)
    amocrm_for(ctx.settings)  # not configured: refused now, in plain words, before anything is planned
    mark = block_mark(ctx.settings.reports_dir)
    if block_lifted:
        mark.lift()
    try:
        mark.refuse_if_blocked()
    except StillBlocked as refused:
        return _summary([], mode, [Notice("red", str(refused))])
    plan = streams(chosen)
    what = f"amoCRM {'changes' if mode == 'changes' else 'full load'}: {', '.join(chosen)}"

    def commit(ctx: RunContext) -> ReportQuery:
        loader = Loader(amocrm_for(ctx.settings), ctx.writer, ctx.settings.reports_dir, user=ctx.user, say=ctx.say,
                        cancelled=ctx.cancelled)
        try:
            results = loader.run(plan, mode)
        except AmoCRMBlocked as blocked:
            _remember_block(ctx, blocked)
            raise
        if loader.stopped:  # Stop was honoured at a committed page: the page shows where, rather than "Cancelled"
            ctx.cancelled.clear()
        return _summary(results, mode, _notices(results, loader.stopped))

    return WritePlan(what=what, target=TARGET, commit=commit, parameters={"mode": mode, "entities": chosen})


def _remember_block(ctx: RunContext, blocked: AmoCRMBlocked) -> None:
    """Mark the home blocked; a run from the form tells on-call itself (a scheduled run's failure alert does)."""
    mark = block_mark(ctx.settings.reports_dir)
    mark.mark(blocked.status or 403, utc_now())
    if ctx.job is not None:
        return
    since = mark.since() or utc_now()
    alert = Alert(alert_id("amocrm_blocked", since.isoformat()), "outage", "amoCRM blocked the account: CRM loads stopped",
                  (f"*What:* {BLOCKED[0].upper()}{BLOCKED[1:]}.", f"*When:* {since:%d.%m.%Y %H:%M} UTC",
                   "*Loaded so far:* every page read before the block is committed.",
                   "*Next:* no load asks amoCRM again until someone runs the CRM loader with 'The block is lifted' "
                   "ticked, after support lifts it."))
    deliver(ctx.settings, [alert], "slack")


def _outcome(result: StreamResult, stopped: bool) -> str:
    if result.skipped:
        return f"Skipped: {result.skipped}"
    if result.finished:
        return "Finished"
    return f"Stopped after page {result.last_page}" if stopped else "Not finished"


def _summary(results: list[StreamResult], mode: str, notices: list[Notice]) -> ReportQuery:
    stopped = any(notice.text.startswith("Stopped") for notice in notices)
    rows = [{"what": result.entity.words.capitalize(),
             "load": ("Changes" if result.mode == "changes" else "Full")
             + (f", resumed at page {result.resumed_at}" if result.resumed_at else ""),
             "pages": result.pages, "listed": result.reported, "written": result.written, "inserts": result.inserts,
             "live": None if result.entity.name == "deleted_leads" else result.live, "gone": result.gone,
             "outcome": _outcome(result, stopped)} for result in results]
    table = pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.int64() if name in (
        "pages", "listed", "written", "inserts", "live", "gone") else pa.string()) for name in HEADERS]))
    facts = [_reconciliation(result) for result in results if not result.skipped]
    return ReportQuery(name="crm_load", title=f"amoCRM {'changes' if mode == 'changes' else 'full load'}",
                       sql="", data=table, headers=HEADERS, facts=facts, notices=tuple(notices), row_noun=None)


def _reconciliation(result: StreamResult) -> str:
    """Entities amoCRM reported against entities current in the store, in one line."""
    what = result.entity.words.capitalize()
    if result.entity.name == "deleted_leads" and result.mode == "changes" and not result.written:
        return f"{what}: none newly deleted since the last load; {counted(result.gone, 'lead')} marked deleted in the store."
    if result.entity.name == "deleted_leads":
        return (f"{what}: amoCRM's trash lists {result.reported:,}{' changed' if result.mode == 'changes' else ''}, "
                f"{result.written:,} newly marked; {counted(result.gone, 'lead')} marked deleted in the store.")
    held = f"the store holds {result.live:,} current" + (f" and {result.gone:,} marked deleted." if result.gone else ".")
    if not result.entity.by_time:
        return f"{what}: read whole, {result.reported:,} in amoCRM, {result.written:,} changed; {held}"
    if result.mode == "full":
        return f"{what}: amoCRM listed {result.reported:,} in all, {result.written:,} new versions stored; {held}"
    if result.written == 0:
        return f"{what}: nothing new since the last load; {held}"
    return (f"{what}: {result.written:,} new versions since the last load (amoCRM listed {result.reported:,}, its last "
            f"{OVERLAP // 60} minutes read again); {held}")


def _notices(results: list[StreamResult], stopped: bool) -> list[Notice]:
    notices = []
    if stopped:
        where = next((result for result in reversed(results) if result.pages and not result.finished), None)
        text = "Stopped: every page read is committed"
        if where is not None:
            text = f"Stopped at {where.entity.words} page {where.last_page}: every page read is committed"
        notices.append(Notice("yellow", text + "; the next load goes on from there."))
    for result in results:
        if result.skipped:
            notices.append(Notice("yellow", f"{result.entity.words.capitalize()}: {result.skipped}."))
        if result.unfiltered:
            notices.append(Notice("yellow", f"{result.entity.words.capitalize()}: amoCRM ignored the filter by update "
                                            "time (an option of some accounts), so every page was read; only changes "
                                            "were stored."))
        if (result.finished and result.mode == "full" and result.entity.by_time
                and result.entity.name != "deleted_leads" and result.reported != result.live):
            notices.append(Notice("yellow", f"{result.entity.words.capitalize()}: amoCRM listed {result.reported:,}, the "
                                            f"store holds {result.live:,} current: entities deleted or changed while "
                                            "the load ran come right with the next load of changes."))
    return notices
