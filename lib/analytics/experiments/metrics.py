"""What an A/B summary measures, and the per-user numbers behind it, read in one pass over the events.

Four baseline metrics watch user behaviour in every test (the analysts' "base-line" metrics:
activity in the app, cards and other products issued, unsubscribes, support requests); a
target event is optional. Per-user means are compared with Welch's t-test, shares of users
with the two-proportion z-test (see :mod:`.tests`).

Each user counts from their assignment (or the window's first day, if later) to the window's
last day; the pre-period (``pre_days`` before the first day, and before the user's assignment) gives CUPED its
covariate, so the covariate never holds an effect of the test. The SQL
is the same on ClickHouse 18.16 and chDB: joins with explicit strictness, no CTEs; event names
are bound values and the column aliases are built from fixed names only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from ..db import Database
from ..errors import ParameterError

MEAN, SHARE = "mean", "share"


@dataclass(frozen=True)
class Metric:
    """One compared metric: which event, measured how, and which direction is good."""

    key: str  # a column name in the per-user data
    label: str
    event: str
    kind: str  # MEAN: events per user; SHARE: the share of users with at least one
    higher_is_better: bool
    unit: str  # what the value means, for the summary sheet

    @property
    def test_name(self) -> str:
        return "Welch's t-test" if self.kind == MEAN else "two-proportion z-test"


BASELINE = (
    Metric("app_activity", "App activity", "app_open", MEAN, True, "app opens per user"),
    Metric("products_issued", "Cards and products issued", "card_issue", MEAN, True, "cards issued per user"),
    Metric("unsubscribes", "Unsubscribes", "unsubscribe", SHARE, False, "share of users who unsubscribed"),
    Metric("support_requests", "Support requests", "support_request", SHARE, False,
           "share of users who wrote to support"),
)
TARGET_EVENTS = ("app_open", "card_add", "card_show", "card_issue", "offer_view", "push_open", "promo_action",
                 "scenario_step", "support_request", "unsubscribe", "error")


def target_metric(event: str) -> Metric:
    """The user's own target: the share of users who did ``event`` at least once."""
    if event not in TARGET_EVENTS:
        raise ParameterError("target_event", event, f"one of {', '.join(TARGET_EVENTS)}")
    return Metric("target", f"Target: {event}", event, SHARE, True, f"share of users who did {event}")


@dataclass(frozen=True)
class Window:
    """Which experiment, over which days, with how long a pre-period for CUPED."""

    experiment: str
    start: dt.date
    end: dt.date
    pre_days: int = 14

    @property
    def params(self) -> dict[str, object]:
        return {"experiment": self.experiment, "start": self.start, "end": self.end,
                "pre_start": self.start - dt.timedelta(days=self.pre_days),
                "start_time": dt.datetime.combine(self.start, dt.time()),
                "end_time": dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())}


_ASSIGNED = ("SELECT user_id, any(variant) AS variant, min(assigned_at) AS assigned FROM experiment_assignments"
             " WHERE experiment = %(experiment)s AND assigned_at < %(end_time)s GROUP BY user_id")
# Events on the left, the assigned users on the right (the hash table is the smaller side); ALL RIGHT JOIN
# keeps users without any event, with empty event columns that no condition below matches.
_JOINED = (
    " FROM (SELECT user_id, event, event_date, event_time FROM events WHERE event_date >= %(pre_start)s"
    " AND event_date <= %(end)s AND event IN %(events)s)"
    " ALL RIGHT JOIN (SELECT user_id, variant, assigned, greatest(assigned, toDateTime(%(start_time)s)) AS since"
    " FROM (" + _ASSIGNED + ")) USING user_id GROUP BY user_id ORDER BY user_id")
_PER_METRIC = ("countIf(event = %(e{i})s AND event_time >= since) AS n{i},"
               " minIf(event_date, event = %(e{i})s AND event_time >= since) AS f{i},"
               " countIf(event = %(e{i})s AND event_time < least(assigned, toDateTime(%(start_time)s))) AS b{i}")
_DAYS = ", groupArrayIf(toUInt16(event_date), event = %(e{i})s AND event_time >= since) AS d{i}"  # day numbers: cheap to ship


def _event_params(window: Window, metrics: tuple[Metric, ...]) -> dict[str, object]:
    events = tuple(dict.fromkeys(metric.event for metric in metrics))
    return {**window.params, "events": events, **{f"e{i}": metric.event for i, metric in enumerate(metrics)}}


def per_user_sql(metrics: tuple[Metric, ...]) -> str:
    """One row per assigned user: group, assignment, and per metric the events after assignment (``n<i>``),
    the first day of one (``f<i>``, 1970-01-01 if none), the pre-period events (``b<i>``) and, for per-user
    means, the days of the events (``d<i>``, days since 1970-01-01), all from one pass over the events."""
    columns = ", ".join(_PER_METRIC.format(i=i) for i in range(len(metrics)))
    days = "".join(_DAYS.format(i=i) for i, metric in enumerate(metrics) if metric.kind == MEAN)
    return ("SELECT user_id, any(variant) AS variant, any(assigned) AS assigned_at, " + columns + days + _JOINED)


def per_user(db: Database, window: Window, metrics: tuple[Metric, ...]) -> pa.Table:
    """The per-user numbers (``n<i>`` events, ``f<i>`` first day or 1970-01-01, ``b<i>`` pre-period events).

    Streamed, so an experiment with more users than a report may show (``ANALYTICS_MAX_RESULT_ROWS``) still
    sums up: the rows become numbers, not a page.
    """
    chunks = list(db.iter_chunks(per_user_sql(metrics), _event_params(window, metrics)))
    return pa.concat_tables(chunks) if len(chunks) > 1 else chunks[0]


