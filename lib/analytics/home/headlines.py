"""The headline figures of the tile reports, computed from the same period and filters the report reads.

A report calls one of these with its own values and puts the result in ``ReportQuery.headline``; the
scheduler stores it (:mod:`.store`) and the home page shows it. Each figure is defined so that the report
opened with the tile's link values (:func:`analytics.home.tiles.link_values`) lists exactly that many rows:
the tile and the report never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..db import Database
from ..results import Headline
from ..words import counted

if TYPE_CHECKING:
    from ..experiments.summary import Summary

TREND_DAYS = 28  # the sparkline: four weeks, so the weekly rhythm shows
WEEK = dt.timedelta(days=7)


def daily_series(db: Database, sql: str, params: Mapping[str, Any], end: dt.date,
                 days: int = TREND_DAYS) -> tuple[tuple[dt.date, float], ...]:
    """``(day, count)`` for the ``days`` up to ``end``, zero on days without rows. ``sql`` selects ``day, n``
    for ``%(trend_from)s`` ≤ day ≤ ``%(trend_to)s`` (values bound, never formatted in)."""
    first = end - dt.timedelta(days=days - 1)
    table = db.query_arrow(sql, {**params, "trend_from": first, "trend_to": end})
    counts = dict(zip(table.column("day").to_pylist(), table.column("n").to_pylist(), strict=True))
    return tuple((first + dt.timedelta(days=i), float(counts.get(first + dt.timedelta(days=i), 0)))
                 for i in range(days))


def _on(series: Sequence[tuple[dt.date, float]], day: dt.date) -> float:
    return next((value for when, value in series if when == day), 0.0)


def _day_words(day: dt.date, today: dt.date | None = None) -> str:
    today = today or dt.date.today()
    return "today" if day == today else "yesterday" if day == today - dt.timedelta(days=1) else f"on {day:%d.%m.%Y}"


PLASTIC_BY_DAY = ("SELECT toDate(issued_at) AS day, count() AS n FROM cards WHERE partner_id = %(partner)s"
                  " AND origin = 'plastic' AND issued_at >= toDateTime(toDate(%(trend_from)s))"
                  " AND issued_at < toDateTime(toDate(%(trend_to)s)) + 86400 GROUP BY day ORDER BY day")


def plastic_cards_headline(db: Database, partner_id: int, partner: str, day: dt.date) -> Headline:
    """Plastic cards of a partner issued on ``day`` (the report's last day), against the same weekday a week
    before: an account manager's day is compared with a like day, not with a Sunday."""
    series = daily_series(db, PLASTIC_BY_DAY, {"partner": partner_id}, day)
    return Headline(label=f"Plastic cards of {partner} issued {_day_words(day)}", value=_on(series, day),
                    compared_label=f"same weekday last week ({day - WEEK:%d.%m.%Y})",
                    compared_value=_on(series, day - WEEK), trend=series, data_until=day)


AUDIT_BY_DAY = ("SELECT toDate(at) AS day, action, count() AS n FROM audit_log"
                " WHERE action IN ('export', 'sign_in', 'download')"
                " AND at >= toDateTime(toDate(%(trend_from)s)) AND at < toDateTime(toDate(%(trend_to)s)) + 86400"
                " GROUP BY day, action ORDER BY day")


def activity_headline(db: Database, day: dt.date) -> Headline:
    """Exports on ``day`` (the audit report's last day) with sign-ins and downloads in words: what an
    administrator looks at first. One query for the three kinds of event."""
    first = day - dt.timedelta(days=TREND_DAYS - 1)
    rows = db.query_arrow(AUDIT_BY_DAY, {"trend_from": first, "trend_to": day}).to_pylist()
    counts = {(row["day"], row["action"]): float(row["n"]) for row in rows}
    exports = tuple((first + dt.timedelta(days=i), counts.get((first + dt.timedelta(days=i), "export"), 0.0))
                    for i in range(TREND_DAYS))
    sign_ins, downloads = counts.get((day, "sign_in"), 0.0), counts.get((day, "download"), 0.0)
    return Headline(label=f"Exports {_day_words(day)}", value=_on(exports, day),
                    compared_label=f"same weekday last week ({day - WEEK:%d.%m.%Y})",
                    compared_value=_on(exports, day - WEEK), trend=exports, data_until=day,
                    text=f"{counted(int(sign_ins), 'sign-in')} and {counted(int(downloads), 'download')} that day.")


AUDIENCES_BY_DAY = ("SELECT toDate(created_at) AS day, uniqExact(sub_id, version) AS n FROM audiences"
                    " WHERE created_at >= toDateTime(toDate(%(trend_from)s))"
                    " AND created_at < toDateTime(toDate(%(trend_to)s)) + 86400"
                    " GROUP BY day ORDER BY day")
LATEST_AUDIENCES = ("SELECT sub_id, version, any(target_size) AS size, max(created_at) AS at FROM audiences"
                    " WHERE created_at >= toDateTime(toDate(%(start)s)) AND created_at < toDateTime(toDate(%(end)s)) + 86400"
                    " GROUP BY sub_id, version ORDER BY at DESC, sub_id LIMIT 3")


def audiences_headline(db: Database, start: dt.date, end: dt.date) -> Headline:
    """Audiences saved in the report's period (the report's row count) and the three latest with their
    sizes: what a marketer checks before the next push. No ``data_until``: a quiet week without a new
    audience is not a late source, so the tile is judged by its refresh alone."""
    params = {"start": start, "end": end}
    saved = db.scalar("SELECT uniqExact(sub_id, version) FROM audiences WHERE created_at >= toDateTime(toDate(%(start)s))"
                      " AND created_at < toDateTime(toDate(%(end)s)) + 86400", params) or 0
    latest = db.query_arrow(LATEST_AUDIENCES, params).to_pylist()
    text = "; ".join(f"{row['sub_id']} (version {row['version']}): {counted(int(row['size']), 'person', 'people')}"
                     for row in latest)
    return Headline(label=f"Audiences saved from {start:%d.%m.%Y} to {end:%d.%m.%Y}", value=float(saved),
                    trend=daily_series(db, AUDIENCES_BY_DAY, {}, end),
                    text=f"Latest: {text}." if text else "No audience was saved in this period.")


def no_audiences_headline() -> Headline:
    """Before the first audience is saved there is no table to count in."""
    return Headline(label="Audiences saved", value=None, text="No audience has been saved yet.")


def experiment_headline(experiment: str, start: dt.date, end: dt.date, summary: Summary) -> Headline:
    """The A/B report's verdicts in its own words (the first two metrics' sentences). No number: a change
    of −18% that is "no detectable change" would read as a loss in big type. No ``data_until``: an
    experiment that ended is not a late source."""
    return Headline(label=f"A/B test {experiment}, {start:%d.%m.%Y}–{end:%d.%m.%Y}", value=None,
                    text=" ".join(result.sentence for result in summary.results[:2]))
