"""Push report: who received and who opened a push, with delivery and open rates."""

from __future__ import annotations

from ..context import RunContext
from ..errors import ParameterError
from ..warehouse import WAREHOUSE
from .base import ReportQuery

PUSH_LABELS = {**WAREHOUSE["push_deliveries"].labels, "delivered": "Delivered", "opened": "Opened"}


def push_report(ctx: RunContext, push_id: str = "", sub_id: str = "") -> ReportQuery:
    """Recipients of one push, found by its push ID or its sub_id (empty both: the latest push)."""
    db = ctx.db
    if push_id and sub_id:
        raise ParameterError("sub_id", sub_id, "give a push ID or a sub_id, not both")
    if sub_id:
        found = db.query_arrow("SELECT push_id, title FROM pushes WHERE sub_id = %(s)s", {"s": sub_id}).to_pylist()
        if not found:
            raise ParameterError("sub_id", sub_id, "there is no push with this sub_id")
    else:
        where = "WHERE push_id = %(p)s" if push_id else "ORDER BY created_at DESC LIMIT 1"
        found = db.query_arrow("SELECT push_id, title FROM pushes " + where, {"p": int(push_id or 0)}).to_pylist()
        if not found:
            raise ParameterError("push_id", push_id, "there is no push with this ID")
    push, title = found[0]["push_id"], found[0]["title"]
    totals = db.query_arrow(
        "SELECT count() AS sent, countIf(isNotNull(delivered_at)) AS delivered, countIf(isNotNull(opened_at)) AS opened"
        " FROM push_deliveries WHERE push_id = %(p)s", {"p": push}).to_pylist()[0]
    delivery = totals["delivered"] / totals["sent"] if totals["sent"] else 0.0
    opening = totals["opened"] / totals["delivered"] if totals["delivered"] else 0.0
    sql = ("SELECT user_id, sent_at, delivered_at, opened_at, isNotNull(delivered_at) AS delivered,"
           " isNotNull(opened_at) AS opened FROM push_deliveries WHERE push_id = %(p)s ORDER BY user_id")
    return ReportQuery(
        name="push_report", title=f"Recipients of push {push} «{title}»", sql=sql, params={"p": push},
        key_params={"push": push}, headers=PUSH_LABELS,
        facts=[f"Sent to {totals['sent']:,} people; delivered to {totals['delivered']:,} ({delivery:.1%}); "
               f"opened by {totals['opened']:,} ({opening:.1%} of delivered)."])
