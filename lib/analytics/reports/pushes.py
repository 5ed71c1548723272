"""Push report: who received and who opened a push, with delivery and open rates, and the rates of recent pushes.

The push is chosen from a list (``Lookup[pushes]``: date, title and sub_id, newest first), so nobody types
a push ID; a campaign code (sub_id) still finds one for a link or ``analytics run -p sub_id …``.
"""

from __future__ import annotations

import datetime as dt

from ..charts import share_chart
from ..context import RunContext
from ..db import Database
from ..errors import ParameterError
from ..results import Chart
from ..warehouse import WAREHOUSE
from ..words import counted
from .base import ReportQuery

PUSH_LABELS = {**WAREHOUSE["push_deliveries"].labels, "delivered": "Delivered", "opened": "Opened"}
RATE_DAYS = 30  # the chart: every push sent in the 30 days up to the chosen one's day


def push_report(ctx: RunContext, push_id: int = 0, sub_id: str = "") -> ReportQuery:
    """Recipients of one push, chosen from the list or found by its sub_id (neither: the latest push)."""
    db = ctx.db
    push, title, sent_on = _the_push(db, int(push_id or 0), sub_id)
    totals = db.query_arrow(
        "SELECT count() AS sent, countIf(isNotNull(delivered_at)) AS delivered, countIf(isNotNull(opened_at)) AS opened"
        " FROM push_deliveries WHERE push_id = %(p)s", {"p": push}).to_pylist()[0]
    delivery = totals["delivered"] / totals["sent"] if totals["sent"] else 0.0
    opening = totals["opened"] / totals["delivered"] if totals["delivered"] else 0.0
    sql = ("SELECT user_id, sent_at, delivered_at, opened_at, if(isNotNull(delivered_at), 'yes', 'no') AS delivered,"
           " if(isNotNull(opened_at), 'yes', 'no') AS opened"  # words, not 1/0, on the page and in the files
           " FROM push_deliveries WHERE push_id = %(p)s ORDER BY user_id")
    return ReportQuery(
        name="push_report", title=f"Recipients of push {push} «{title}», sent on {sent_on:%d.%m.%Y}", sql=sql,
        params={"p": push}, key_params={"push": push}, headers=PUSH_LABELS, row_noun=("recipient", "recipients"),
        facts=[f"Sent to {counted(totals['sent'], 'person', 'people')}; delivered to {totals['delivered']:,} "
               f"({delivery:.1%}); opened by {totals['opened']:,} ({opening:.1%} of delivered)."],
        charts=_rates_chart(db, sent_on))


def _the_push(db: Database, push_id: int, sub_id: str) -> tuple[int, str, dt.date]:
    """The push's number, title and send day; an unknown one is refused beside the field that named it."""
    if push_id and sub_id:
        raise ParameterError("sub_id", sub_id, "give a push from the list or a sub_id, not both (clear the sub_id)")
    if sub_id:
        field, value, where, bound = "sub_id", sub_id, "WHERE sub_id = %(s)s", {"s": sub_id}
    elif push_id:
        field, value, where, bound = "push_id", push_id, "WHERE push_id = %(p)s", {"p": push_id}
    else:
        field, value, where, bound = "push_id", push_id, "", {}
    found = db.query_arrow("SELECT push_id, title, toDate(created_at) AS day FROM pushes " + where
                           + " ORDER BY created_at DESC, push_id DESC LIMIT 1", bound).to_pylist()
    if not found:
        missing = {"sub_id": "there is no push with this sub_id",
                   "push_id": "there is no push with this number" if push_id else "no push has been sent yet"}
        raise ParameterError(field, value, missing[field])
    return int(found[0]["push_id"]), str(found[0]["title"]), found[0]["day"]


def _rates_chart(db: Database, last_day: dt.date) -> tuple[Chart, ...]:
    """Delivery and open rates of all pushes by send day, the month up to this push: is its rate usual?"""
    rows = db.query_arrow(
        "SELECT toDate(sent_at) AS day, countIf(isNotNull(delivered_at)) / count() AS delivered,"
        " countIf(isNotNull(opened_at)) / greatest(countIf(isNotNull(delivered_at)), 1) AS opened"
        " FROM push_deliveries WHERE toDate(sent_at) BETWEEN toDate(%(first)s) AND toDate(%(last)s)"
        " GROUP BY day ORDER BY day",
        {"first": last_day - dt.timedelta(days=RATE_DAYS - 1), "last": last_day})
    if rows.num_rows == 0:
        return ()
    return (share_chart(rows, f"Delivery and open rates of all pushes by day sent, {RATE_DAYS} days up to this push",
                        labels={"delivered": "Delivered, % of sent", "opened": "Opened, % of delivered"}),)
