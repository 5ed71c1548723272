"""The global hold-out: a small share of all users who never receive campaigns, so campaigns' total effect can be measured.

Membership is a bucket range ``[0, percent × 100)`` under the hold-out's own salt (see
:mod:`.buckets`): nothing per user is stored, and any version's members can be listed in SQL
(:func:`members_sql`) or in NumPy (:meth:`HoldoutVersion.contains`). A changed share writes a
new version; the salt stays, so growing the hold-out keeps everyone who was in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ..db import Database
from ..db.sql import identifier
from ..errors import ConfigError
from .buckets import BUCKETS, bucket_sql, buckets, in_ranges, salt_for
from .tables import HOLDOUT

GLOBAL = "global"
SALT = salt_for("analytics-global-holdout")
LOWEST, HIGHEST = 1.0, 15.0


@dataclass(frozen=True)
class HoldoutVersion:
    version: int
    salt: int
    percent: float
    bucket_from: int
    bucket_to: int

    @property
    def ranges(self) -> list[tuple[int, int]]:
        return [(self.bucket_from, self.bucket_to)]

    def contains(self, user_ids: np.ndarray) -> np.ndarray:
        """Whether each user is held out under this version."""
        return in_ranges(buckets(user_ids, self.salt), self.ranges)


def check_percent(percent: float) -> float:
    if not LOWEST <= float(percent) <= HIGHEST:
        raise ConfigError(f"The global hold-out must be between {LOWEST:g}% and {HIGHEST:g}% of users, not {percent}% "
                          "(ANALYTICS_HOLDOUT_SHARE).")
    return float(percent)


def versions(db: Database) -> list[HoldoutVersion]:
    """Every hold-out version, oldest first (empty before the first audience)."""
    if HOLDOUT.name not in db.tables():
        return []
    rows = db.query_arrow("SELECT version, salt, percent, bucket_from, bucket_to FROM holdout_versions"
                          " WHERE holdout = %(h)s ORDER BY version LIMIT 1 BY version", {"h": GLOBAL}).to_pylist()
    return [HoldoutVersion(**row) for row in rows]


def current(writer: Database, percent: float, *, by: str) -> HoldoutVersion:
    """The hold-out in force at ``percent``: the latest version, or a new one when the share changed."""
    chosen = preview(writer, percent)
    if chosen.version in {known.version for known in versions(writer)}:
        return chosen
    number = chosen.version
    writer.create_table(HOLDOUT)
    row = {"holdout": [GLOBAL], "version": [number], "salt": [chosen.salt], "percent": [percent],
           "bucket_from": [chosen.bucket_from], "bucket_to": [chosen.bucket_to],
           "created_at": [dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)], "created_by": [by]}
    writer.insert(HOLDOUT.name, HOLDOUT.arrow(row), token=f"holdout-{GLOBAL}-v{number}")
    return [v for v in versions(writer) if v.version == number][0]  # a racing writer's row wins the same way


def members_sql(version: HoldoutVersion) -> tuple[str, dict[str, int]]:
    """SQL listing the users held out under ``version`` (and its bound values)."""
    bucket = bucket_sql(identifier("user_id", ["user_id"]))
    sql = "SELECT user_id FROM users WHERE " + bucket + " >= %(start)s AND " + bucket + " < %(stop)s ORDER BY user_id"
    return sql, {"salt": version.salt, "start": version.bucket_from, "stop": version.bucket_to}


def preview(db: Database, percent: float) -> HoldoutVersion:
    """The version :func:`current` would use, without writing one (for a funnel shown before saving)."""
    percent = check_percent(percent)
    known = versions(db)
    if known and known[-1].percent == percent:
        return known[-1]
    number = known[-1].version + 1 if known else 1
    return HoldoutVersion(number, SALT, percent, 0, int(round(percent * BUCKETS / 100)))
