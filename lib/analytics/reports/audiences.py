"""Marketers' reports: a push audience, a retargeting audience, and the list of audiences saved before.

Each audience report computes the funnel first; with "Save" it stores the recipients once under the
sub_id (see :mod:`analytics.audiences`) and exports the target group, the control group and who was left
out and why. A sub_id already saved is shown as stored: nothing is downloaded or written again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa

from ..audiences import AudienceRequest, Filters, suggested_sub_id
from ..audiences.pipeline import AudienceOutcome, plan_request, save_plan
from ..audiences.store import EXCLUSIONS_SQL, LEDGER, members_sql
from ..audiences.tables import AUDIENCES, EXCLUSIONS, RECIPIENTS
from ..context import RunContext
from ..db.sql import compose, identifier
from ..errors import ParameterError
from ..home.headlines import audiences_headline, no_audiences_headline
from ..words import counted
from .base import ReportQuery, WritePlan, default_period

PEOPLE = ("person", "people")  # what a row of an audience is
SAVED = ("saved audience", "saved audiences")  # a row of past audiences: one version of a sub_id

ID_TYPES = {"user_id": "our user IDs", "amplitude_id": "Amplitude IDs"}
FUNNEL_LABELS = {"step": "Step", "remaining": "People still in", "left_out": "Left out at this step"}


def push_audience(ctx: RunContext, cohort_id: str, sub_id: str = "", gender: str = "any", age_from: int = 0,
                  age_to: int = 0, os: Sequence[str] = (), device_models: Sequence[str] = (),
                  regions: Sequence[str] = (), carriers: Sequence[str] = (), push_enabled: bool = True,
                  cap_days: int = 7, control_percent: int = 10, save: bool = False,
                  replace: bool = False) -> ReportQuery | WritePlan:
    """Recipients of a push from an Amplitude cohort, with a control group; saved when ``save`` is on."""
    filters = Filters(gender, age_from, age_to, tuple(os), tuple(device_models), tuple(regions), tuple(carriers),
                      push_enabled)
    request = _request(ctx, "push", cohort_id, sub_id, filters, cap_days, control_percent)
    return _plan_or_show(ctx, request, save, replace, "push_audience", formats=(), id_column="user_id")


def retargeting_audience(ctx: RunContext, cohort_id: str, sub_id: str = "", id_type: str = "user_id",
                         gender: str = "any", age_from: int = 0, age_to: int = 0, os: Sequence[str] = (),
                         regions: Sequence[str] = (), cap_days: int = 0, control_percent: int = 10,
                         save: bool = False, replace: bool = False) -> ReportQuery | WritePlan:
    """An ID list for an ad platform (one ID per line), with a control group kept out of the campaign."""
    if id_type not in ID_TYPES:
        raise ParameterError("id_type", id_type, f"one of {', '.join(ID_TYPES)}")
    filters = Filters(gender, age_from, age_to, tuple(os), (), tuple(regions), (), False)
    request = _request(ctx, "retargeting", cohort_id, sub_id, filters, cap_days, control_percent)
    return _plan_or_show(ctx, request, save, replace, "retargeting", formats=("txt", "csv"), id_column=id_type)


def _request(ctx: RunContext, kind: str, cohort_id: str, sub_id: str, filters: Filters, cap_days: int,
             control_percent: int) -> AudienceRequest:
    if filters.age_to and filters.age_to < filters.age_from:
        raise ParameterError("age_to", filters.age_to, f"an age at or above the lowest age ({filters.age_from})")
    if not 1 <= control_percent <= 50:
        raise ParameterError("control_percent", control_percent, "a share between 1% and 50%")
    used = sub_id or suggested_sub_id(cohort_id, kind, dt.date.today())
    return AudienceRequest(cohort_id, used, filters, cap_days, float(control_percent), kind=kind)


def _plan_or_show(ctx: RunContext, request: AudienceRequest, save: bool, replace: bool, name: str, *,
                  formats: tuple[str, ...], id_column: str) -> ReportQuery | WritePlan:
    """The stored audience, the funnel of one not saved, or (``save``) the plan to store it and its commit."""
    outcome = plan_request(ctx.db, request, ctx.settings, replace_saved=replace, status=ctx.say,
                           cancelled=ctx.cancelled)
    if not save or outcome.plan is None:
        return _audience_query(outcome, name, request.sub_id, formats=formats, id_column=id_column)
    plan = outcome.plan

    def commit(ctx: RunContext) -> ReportQuery:
        saved = save_plan(ctx.writer, ctx.settings, plan, user=ctx.user, status=ctx.say)
        return _audience_query(saved, name, request.sub_id, formats=formats, id_column=id_column)

    people = len(plan.control)
    return WritePlan(what=f"audience {request.sub_id} version {plan.version} ({people:,} people)",
                     target=f"audience:{request.kind}", commit=commit, rows=people,
                     parameters={"sub_id": request.sub_id, "version": plan.version}, audits_itself=True)


def _audience_query(outcome: AudienceOutcome, name: str, sub_id: str, *, formats: tuple[str, ...],
                    id_column: str) -> ReportQuery:
    funnel = tuple((step.label, step.remaining, step.left_out) for step in outcome.steps)
    audience = outcome.saved
    if audience is None or (outcome.plan is not None and audience.version != outcome.plan.version and not outcome.reused):
        return _preview(outcome, name, sub_id, funnel)
    columns = (id_column,) if formats and formats[0] == "txt" else ("user_id", "amplitude_id")
    key = {"sub_id": audience.sub_id, "version": f"v{audience.version}"}
    control = ReportQuery(name=f"{name}_control", title="Control group", sql=members_sql("control", columns),
                          params=audience.bound(group="control"), key_params={**key, "group": "control"},
                          headers=RECIPIENTS.labels, label="Control group", row_noun=PEOPLE)
    excluded = ReportQuery(name=f"{name}_left_out", title="Left out, with the reason", sql=EXCLUSIONS_SQL,
                           params=audience.bound(), key_params={**key, "group": "left-out"}, headers=EXCLUSIONS.labels,
                           formats=("csv",), label="Left out, and why", row_noun=PEOPLE)
    when = f"{audience.created_at:%d.%m.%Y %H:%M} UTC by {audience.created_by or 'unknown'}"
    facts = [f"Sub ID {audience.sub_id}, version {audience.version}: saved {when}. Cohort {audience.cohort_id}; "
             f"control group {audience.control_percent:g}% (salt {audience.salt}); global hold-out version "
             f"{audience.holdout_version}."]
    if outcome.reused:
        facts.append("This sub_id was saved before, so nothing new was written and the saved audience is shown. "
                     "To replace it, tick 'Replace the saved audience' (the old version stays in history).")
    return ReportQuery(name=name, title=f"Audience {audience.sub_id}: target group ({counted(audience.target_size, *PEOPLE)})",
                       sql=members_sql("target", columns), params=audience.bound(group="target"),
                       key_params={**key, "group": "target"}, headers=RECIPIENTS.labels, facts=facts,
                       effective={"sub_id": audience.sub_id}, formats=formats, label="Target group",
                       also=(control, excluded), funnel=funnel, row_noun=PEOPLE)


def _preview(outcome: AudienceOutcome, name: str, sub_id: str, funnel: tuple[tuple[str, int, int], ...]) -> ReportQuery:
    assert outcome.plan is not None
    table = pa.table({"step": [step[0] for step in funnel], "remaining": pa.array([step[1] for step in funnel], pa.uint64()),
                      "left_out": pa.array([step[2] for step in funnel], pa.uint64())})
    replacing = f" It will replace version {outcome.saved.version} (kept in history)." if outcome.saved else ""
    facts = [f"Nothing is saved yet. Tick 'Save the audience' and press Run to store these "
             f"{counted(len(outcome.plan.control), *PEOPLE)} as sub_id {sub_id} (version {outcome.plan.version}) and get the "
             f"files.{replacing}"]
    return ReportQuery(name=f"{name}_funnel", title=f"Audience preview for cohort {outcome.plan.request.cohort_id}",
                       sql="", data=table, key_params={"sub_id": sub_id}, headers=FUNNEL_LABELS, facts=facts,
                       effective={"sub_id": sub_id}, formats=("csv",), funnel=funnel, row_noun=None)


def past_audiences(ctx: RunContext, sub_id: str = "", start: dt.date | None = None,
                   end: dt.date | None = None) -> ReportQuery:
    """Audiences saved between two days (every version), newest first; a sub_id narrows to those containing it."""
    db = ctx.db
    if AUDIENCES.name not in db.tables():
        return ReportQuery(name="past_audiences", title="Audiences saved", sql="",
                           data=AUDIENCES.arrow({name: [] for name in AUDIENCES.columns}), headers=AUDIENCES.labels,
                           facts=["No audience has been saved yet: save one with the push or retargeting audience report."],
                           row_noun=SAVED, headline=no_audiences_headline())
    start, end = default_period(db, start, end, "SELECT toDate(max(created_at)) FROM audiences", days=90)
    shown = ("sub_id", "version", "kind", "cohort_id", "created_at", "created_by", "cohort_size", "target_size",
             "control_size", "excluded_size", "control_percent", "holdout_version")
    columns = [identifier(column, AUDIENCES.columns) for column in shown]
    sql = compose("SELECT {c} FROM audiences WHERE created_at >= toDateTime(%(start)s) AND created_at < "
                  "toDateTime(%(end)s) + 86400 AND (%(q)s = '' OR positionCaseInsensitiveUTF8(sub_id, %(q)s) > 0)"
                  " ORDER BY created_at DESC, sub_id, version DESC LIMIT 1 BY sub_id, version", c=columns)
    params = {"start": f"{start} 00:00:00", "end": f"{end} 00:00:00", "q": sub_id}
    also: tuple[ReportQuery, ...] = ()
    if sub_id and db.scalar("SELECT count() FROM audiences WHERE sub_id = %(s)s", {"s": sub_id}):
        also = (ReportQuery(
            name="audience_recipients", title=f"Recipients of {sub_id}, every version",
            sql=compose("SELECT {c} FROM audience_recipients WHERE sub_id = %(s)s AND ",
                        c=[identifier(column, RECIPIENTS.columns) for column in
                           ("sub_id", "version", "group", "user_id", "amplitude_id", "created_at", "created_by")])
            + LEDGER.committed("sub_id = %(s)s")
            + compose(" ORDER BY version, {g}, user_id", g=identifier("group", RECIPIENTS.columns)),
            params={"s": sub_id}, key_params={"sub_id": sub_id}, headers=RECIPIENTS.labels,
            label=f"Recipients of {sub_id}", row_noun=PEOPLE),)
    looked_for = f" with '{sub_id}' in the sub_id" if sub_id else ""
    return ReportQuery(name="past_audiences", title=f"Audiences saved{looked_for} from {start:%d.%m.%Y} to {end:%d.%m.%Y}",
                       sql=sql, params=params, key_params={"start": start, "end": end, "sub_id": sub_id},
                       headers=AUDIENCES.labels, effective={"start": start, "end": end}, also=also, row_noun=SAVED,
                       headline=audiences_headline(db, start, end))
