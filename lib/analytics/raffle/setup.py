"""Setting a raffle up (its chain, time zone, past-winners rule and committed salt), its weeks, and who took part.

The salt is a secret file under ``$ANALYTICS_HOME/secrets/raffles/`` (readable by its owner only);
only its SHA-256 goes into the ``raffle_setups`` table and onto the page, published at setup. Whether
past winners are left out is fixed in the same row, so no draw can choose between two outcomes. A week is
Monday 00:00 to the next Monday 00:00 in the raffle's time zone (DST included); a participant did
every step of the chain, in order, inside it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from ..config import Settings
from ..db import Database, TableSpec
from ..db.sql import Identifier, compose, identifier
from ..errors import ParameterError
from ..exports.files import atomic_file
from .fairness import commitment, new_salt
from .tables import RAFFLE_TABLES, RAFFLES, SETUPS

_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
WEEK = dt.timedelta(days=7)


@dataclass(frozen=True)
class Raffle:
    """One setup version of a raffle: what counts as taking part, who may win, and the salt's commitment."""

    raffle: str
    version: int
    title: str
    scenario: str
    steps: str  # "1,2,3,4,5": the chain's steps in order
    timezone: str
    exclude_past_winners: bool  # winners of the raffle's earlier weeks are left out of each draw
    commitment: str
    created_at: dt.datetime
    created_by: str

    @property
    def past_winners_rule(self) -> str:
        return "past winners are left out" if self.exclude_past_winners else "past winners may win again"

    @property
    def step_numbers(self) -> tuple[int, ...]:
        return tuple(int(step) for step in self.steps.split(","))

    def week(self, day: dt.date) -> Week:
        return week_of(day, self.timezone)


@dataclass(frozen=True)
class Week:
    """A calendar week in a time zone, with its bounds in UTC (what the events table holds)."""

    start: dt.date  # the Monday
    opens: dt.datetime  # UTC, naive
    closes: dt.datetime  # the next Monday 00:00 local, in UTC

    @property
    def label(self) -> str:
        return f"{self.start:%d.%m.%Y}–{self.start + dt.timedelta(days=6):%d.%m.%Y}"


def week_of(day: dt.date, timezone: str) -> Week:
    zone = _zone(timezone)
    monday = day - dt.timedelta(days=day.weekday())

    def utc(date: dt.date) -> dt.datetime:
        return dt.datetime.combine(date, dt.time(), zone).astimezone(dt.UTC).replace(tzinfo=None)

    return Week(monday, utc(monday), utc(monday + WEEK))


def last_full_week(latest_day: dt.date, timezone: str) -> Week:
    """The latest Monday-to-Sunday week that ends on or before ``latest_day`` (the last day with data)."""
    week = week_of(latest_day, timezone)
    return week if latest_day.weekday() == 6 else week_of(week.start - WEEK, timezone)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError("timezone", timezone, "a time zone name like Europe/Moscow") from None


def salt_path(settings: Settings, raffle: str, version: int) -> Path:
    return settings.home / "secrets" / "raffles" / f"{raffle}-v{version}.salt"


def read_salt(settings: Settings, setup: Raffle) -> str:
    path = salt_path(settings, setup.raffle, setup.version)
    if not path.is_file():
        raise ParameterError("raffle", setup.raffle, f"a raffle whose secret salt is at hand ({path} is missing)")
    return path.read_text(encoding="ascii").strip()


def write_salt(path: Path, salt: str) -> None:
    """The salt file, readable by its owner only, appearing whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with atomic_file(path) as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(salt.encode("ascii"))


def ensure_tables(writer: Database) -> None:
    for spec in RAFFLE_TABLES:
        writer.create_table(spec)


def setups(db: Database, raffle: str) -> list[Raffle]:
    """Every setup version of ``raffle``, oldest first.

    Setups from before the past-winners rule was part of a setup (the ``raffles`` table) read as
    "past winners left out": what their draws did unless someone unticked it for one draw.
    """
    present = db.tables()
    found: dict[int, Raffle] = {}
    for spec in (RAFFLES, SETUPS):  # a version written twice (a retried insert) is its first row, as before
        if spec.name not in present:
            continue
        rows = db.query_arrow(compose("SELECT * FROM {t} WHERE raffle = %(r)s ORDER BY version, created_at LIMIT 1 BY"
                                      " version", t=_table(spec)), {"r": raffle}).to_pylist()
        for row in rows:
            found.setdefault(row["version"], Raffle(**{**row, "exclude_past_winners": bool(
                row.get("exclude_past_winners", True))}))
    return [found[version] for version in sorted(found)]


def known_raffles(db: Database) -> list[str]:
    present = db.tables()
    names: set[str] = set()
    for spec in (RAFFLES, SETUPS):
        if spec.name in present:
            names.update(str(row["raffle"]) for row in
                         db.query_arrow(compose("SELECT DISTINCT raffle FROM {t}", t=_table(spec))).to_pylist())
    return sorted(names)


def _table(spec: TableSpec) -> Identifier:
    return identifier(spec.name, [spec.name], kind="table")


def in_force(db: Database, raffle: str, week: Week) -> Raffle:
    """The setup whose salt was fixed before ``week`` closed: the only one that may draw it."""
    versions = setups(db, raffle)
    if not versions:
        known = ", ".join(known_raffles(db)) or "none yet (an analyst sets one up with `analytics raffle-setup`)"
        raise ParameterError("raffle", raffle, f"a raffle that is set up (set up: {known})")
    before = [setup for setup in versions if setup.created_at < week.closes]
    if not before:
        raise ParameterError("week", week.start.isoformat(), f"a week that closed after the raffle was set up "
                             f"({versions[0].created_at:%d.%m.%Y %H:%M} UTC): the salt must be fixed before a week closes")
    return before[-1]


def setup(writer: Database, settings: Settings, raffle: str, *, scenario: str, steps: tuple[int, ...],
          timezone: str = "Europe/Moscow", title: str = "", user: str = "", now: dt.datetime | None = None,
          new_salt_version: bool = False, exclude_past_winners: bool | None = None) -> Raffle:
    """Set ``raffle`` up (or return its current setup): a new secret salt on disk, its commitment in ``raffle_setups``.

    ``exclude_past_winners`` (default: yes) is fixed here with the salt, for every week the setup draws;
    a different rule needs a new setup version. ``new_salt_version`` starts one, with a new salt (weeks
    closing after it use it). The salt file is written before the row, and reused by a retry, so a kill
    in between changes nothing.
    """
    if not _NAME.match(raffle):
        raise ParameterError("raffle", raffle, "a name of lowercase letters, digits and '_' (at most 40)")
    _zone(timezone)
    if not steps or any(step < 1 or step > 255 for step in steps):
        raise ParameterError("steps", steps, "the chain's step numbers in order, like 1,2,3")
    ensure_tables(writer)
    versions = setups(writer, raffle)
    if versions and not new_salt_version:
        current = versions[-1]
        if exclude_past_winners is not None and exclude_past_winners != current.exclude_past_winners:
            raise ParameterError("exclude_past_winners", exclude_past_winners, f"the rule of {raffle}'s setup "
                                 f"(version {current.version}: {current.past_winners_rule}), or a new setup version "
                                 "with a new salt for weeks that close after it")
        return current
    version = versions[-1].version + 1 if versions else 1
    path = salt_path(settings, raffle, version)
    if not path.is_file():
        write_salt(path, new_salt())
    salt = path.read_text(encoding="ascii").strip()
    created = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    row = {"raffle": raffle, "version": version, "title": title or raffle.replace("_", " ").capitalize(),
           "scenario": scenario, "steps": ",".join(map(str, steps)), "timezone": timezone,
           "exclude_past_winners": int(exclude_past_winners is not False), "commitment": commitment(salt),
           "created_at": created, "created_by": user}
    writer.insert(SETUPS.name, SETUPS.arrow({name: [value] for name, value in row.items()}),
                  token=f"raffle-setup-{raffle}-v{version}")
    return setups(writer, raffle)[-1]


def participants(db: Database, setup: Raffle, week: Week) -> pa.Table:
    """Users who did every step of the chain in order within the week: ``user_id``, ``completed_at``."""
    steps = setup.step_numbers
    conditions = ", ".join("step = %(s" + str(index) + ")s" for index in range(len(steps)))
    sql = ("SELECT user_id, minIf(event_time, step = %(last)s) AS completed_at FROM events"
           " WHERE event = 'scenario_step' AND scenario = %(scenario)s AND step IN %(steps)s"
           " AND event_date >= %(first_day)s AND event_date <= %(last_day)s"
           " AND event_time >= %(opens)s AND event_time < %(closes)s"
           " GROUP BY user_id HAVING windowFunnel(%(span)s)(event_time, " + conditions + ") = %(count)s"
           " ORDER BY user_id")
    params = {"scenario": setup.scenario, "steps": steps, "last": steps[-1], "count": len(steps),
              "first_day": week.opens.date(), "last_day": week.closes.date(), "opens": week.opens,
              "closes": week.closes, "span": int((week.closes - week.opens).total_seconds()),
              **{f"s{index}": step for index, step in enumerate(steps)}}
    return db.query_arrow(sql, params)
