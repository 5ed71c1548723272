"""Drawing a raffle-week once, showing it again, redrawing or replacing a winner on purpose, and verifying.

Every draw is a keyed write (see :mod:`.tables`): participants, picks, then the commit. Running the
same raffle-week again shows the stored draw; a redraw (new participants read, same rules) or a
replacement (the next pick of the same stream) is a new version, and the first stays in history.
The commit's insert token (raffle, week, version) lets only one of two racing draws become that version.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..config import Settings
from ..db import Database
from ..errors import AnalyticsError, ParameterError
from .fairness import commitment, participants_hash, picks, seed
from .setup import Raffle, Week, ensure_tables, in_force, participants, read_salt, setups
from .tables import DRAWS, PARTICIPANTS, WEEKS

WINNER, REPLACED = "winner", "replaced (unreachable)"
PAST_WINNER = "won an earlier week"


class DrawConflict(AnalyticsError):
    """Someone drew this raffle-week at the same moment; theirs was kept."""


@dataclass(frozen=True)
class Draw:
    """The commit row of one draw version."""

    raffle: str
    week_start: dt.date
    version: int
    write_id: str
    participants_write: str
    setup_version: int
    commitment: str
    participants_hash: str
    participants: int
    eligible: int
    winners: int
    picks: int
    reason: str
    parameters: str
    drawn_at: dt.datetime
    drawn_by: str

    @property
    def bound(self) -> dict[str, Any]:
        return {"raffle": self.raffle, "week": self.week_start, "write": self.write_id,
                "participants_write": self.participants_write}


def stored(db: Database, raffle: str, week: Week, version: int | None = None) -> Draw | None:
    """The current (or the given) draw of a raffle-week; None if it was never drawn."""
    if WEEKS.name not in db.tables():
        return None
    which = " AND version = %(version)s" if version else ""
    rows = db.query_arrow("SELECT * FROM raffle_weeks WHERE raffle = %(r)s AND week_start = %(w)s" + which +
                          " ORDER BY version DESC, drawn_at, write_id LIMIT 1",
                          {"r": raffle, "w": week.start, "version": version or 0}).to_pylist()
    return Draw(**rows[0]) if rows else None


def history(db: Database, raffle: str, week: Week) -> list[Draw]:
    if WEEKS.name not in db.tables():
        return []
    rows = db.query_arrow("SELECT * FROM raffle_weeks WHERE raffle = %(r)s AND week_start = %(w)s"
                          " ORDER BY version, drawn_at, write_id LIMIT 1 BY version",
                          {"r": raffle, "w": week.start}).to_pylist()
    return [Draw(**row) for row in rows]


PICKS_SQL = ("SELECT rank, user_id, status FROM raffle_draws WHERE raffle = %(raffle)s AND week_start = %(week)s"
             " AND write_id = %(write)s ORDER BY rank")
PARTICIPANTS_SQL = ("SELECT user_id, completed_at, excluded FROM raffle_participants WHERE raffle = %(raffle)s"
                    " AND week_start = %(week)s AND write_id = %(participants_write)s ORDER BY user_id")


def stored_picks(db: Database, draw: Draw) -> list[dict[str, Any]]:
    return db.query_arrow(PICKS_SQL, draw.bound).to_pylist()


def stored_participants(db: Database, draw: Draw) -> pa.Table:
    return db.query_arrow(PARTICIPANTS_SQL, draw.bound)


@dataclass
class DrawOutcome:
    draw: Draw
    new: bool  # False: the stored draw was shown, nothing written
    history: list[Draw] = field(default_factory=list)


def draw(writer: Database, settings: Settings, raffle: str, week: Week, *, winners: int,
         exclude_past_winners: bool = True, redraw: bool = False, user: str = "",
         now: dt.datetime | None = None, before_commit: Any = None) -> DrawOutcome:
    """The raffle-week's draw: the stored one, or (first time, or ``redraw``) a new one from its participants."""
    now = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    if week.closes > now:
        raise ParameterError("week", week.start.isoformat(), f"a week that is over (this one closes "
                             f"{week.closes:%d.%m.%Y %H:%M} UTC)")
    setup = in_force(writer, raffle, week)
    current = stored(writer, raffle, week)
    if current is not None and not redraw:
        return DrawOutcome(current, False, history(writer, raffle, week))
    ensure_tables(writer)
    found = participants(writer, setup, week)
    past = _past_winners(writer, raffle, week) if exclude_past_winners else set()
    users = found.column("user_id").to_pylist()
    excluded = [PAST_WINNER if user_id in past else "" for user_id in users]
    pool = [user_id for user_id, reason in zip(users, excluded, strict=True) if not reason]
    if not users:
        raise ParameterError("week", week.start.isoformat(), f"a week in which someone completed every step "
                             f"(nobody did in {week.label})")
    if winners > len(pool):
        left = f" ({len(users) - len(pool)} more won an earlier week)" if len(pool) < len(users) else ""
        raise ParameterError("winners", winners, f"at most {len(pool)}: only {len(pool)} people can win "
                             f"{week.label}{left}")
    list_hash = participants_hash(zip(users, excluded, strict=True))
    salt = read_salt(settings, setup)
    chosen = picks(seed(salt, raffle, week.start, list_hash), pool, winners)
    write_id = secrets.token_hex(8)
    writer.insert(PARTICIPANTS.name, PARTICIPANTS.arrow({
        "raffle": [raffle] * len(users), "week_start": [week.start] * len(users), "write_id": [write_id] * len(users),
        "user_id": users, "completed_at": found.column("completed_at").to_pylist(), "excluded": excluded}),
        token=f"{write_id}-participants")
    parameters = {"raffle": raffle, "week": week.start.isoformat(), "winners": winners, "timezone": setup.timezone,
                  "scenario": setup.scenario, "steps": setup.steps, "exclude_past_winners": exclude_past_winners}
    reason = "redraw (asked for explicitly)" if current is not None else "first draw"
    commit = _commit(writer, setup, week, current, write_id, write_id, list_hash, len(users), len(pool), winners,
                     [(user_id, WINNER) for user_id in chosen], reason, parameters, now, user, before_commit)
    return DrawOutcome(commit, True, history(writer, raffle, week))


def replace_winner(writer: Database, settings: Settings, raffle: str, week: Week, unreachable: int, *,
                   user: str = "", now: dt.datetime | None = None) -> DrawOutcome:
    """A new version where ``unreachable`` is marked replaced and the stream's next pick joins the winners."""
    current = stored(writer, raffle, week)
    if current is None:
        raise ParameterError("week", week.start.isoformat(), f"a week that has been drawn ({week.label} has not)")
    rows = stored_picks(writer, current)
    if not any(row["user_id"] == unreachable and row["status"] == WINNER for row in rows):
        raise ParameterError("replace_user", unreachable, "one of this week's winners")
    setup = next(item for item in setups(writer, raffle) if item.version == current.setup_version)
    listed = stored_participants(writer, current)
    pool = [row["user_id"] for row in listed.to_pylist() if not row["excluded"]]
    if len(rows) >= len(pool):
        raise ParameterError("replace_user", unreachable, "a winner who can be replaced: everyone in the draw "
                             "has been picked already")
    salt = read_salt(settings, setup)
    following = picks(seed(salt, raffle, week.start, current.participants_hash), pool, len(rows) + 1)[-1]
    statuses = [(row["user_id"], REPLACED if row["user_id"] == unreachable else row["status"]) for row in rows]
    now = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    parameters = {**json.loads(current.parameters), "replaced": unreachable}
    commit = _commit(writer, setup, week, current, secrets.token_hex(8), current.participants_write,
                     current.participants_hash, current.participants, current.eligible, current.winners,
                     [*statuses, (following, WINNER)], f"replacement of {unreachable}", parameters, now, user, None)
    return DrawOutcome(commit, True, history(writer, raffle, week))


def _commit(writer: Database, setup: Raffle, week: Week, current: Draw | None, write_id: str, participants_write: str,
            list_hash: str, participants_count: int, eligible: int, winners: int, chosen: list[tuple[int, str]],
            reason: str, parameters: Mapping[str, Any], now: dt.datetime, user: str, before_commit: Any) -> Draw:
    """Write the picks, then the commit row; the version is the next one, decided by the commit's token."""
    version = current.version + 1 if current else 1
    size = len(chosen)
    writer.insert(DRAWS.name, DRAWS.arrow({
        "raffle": [setup.raffle] * size, "week_start": [week.start] * size, "version": [version] * size,
        "write_id": [write_id] * size, "rank": list(range(1, size + 1)), "user_id": [item[0] for item in chosen],
        "status": [item[1] for item in chosen], "commitment": [setup.commitment] * size,
        "participants_hash": [list_hash] * size, "drawn_at": [now] * size, "drawn_by": [user] * size}),
        token=f"{write_id}-picks")
    if before_commit is not None:
        before_commit()  # tests stop the write here
    row = {"raffle": setup.raffle, "week_start": week.start, "version": version, "write_id": write_id,
           "participants_write": participants_write, "setup_version": setup.version, "commitment": setup.commitment,
           "participants_hash": list_hash, "participants": participants_count, "eligible": eligible,
           "winners": winners, "picks": size, "reason": reason,
           "parameters": json.dumps(dict(parameters), sort_keys=True, ensure_ascii=False),
           "drawn_at": now, "drawn_by": user}
    writer.insert(WEEKS.name, WEEKS.arrow({name: [value] for name, value in row.items()}),
                  token=f"raffle-{setup.raffle}-{week.start}-v{version}")
    kept = stored(writer, setup.raffle, week, version)
    if kept is None:
        raise DrawConflict(f"The draw of {setup.raffle} for {week.label} could not be saved; try again.")
    return kept  # a racing draw's commit, if it won: both are valid draws of the same stream


def _past_winners(db: Database, raffle: str, week: Week) -> set[int]:
    """Winners of the raffle's earlier weeks, as their current draws stand."""
    if DRAWS.name not in db.tables():
        return set()
    rows = db.query_arrow(
        "SELECT DISTINCT user_id FROM raffle_draws WHERE raffle = %(r)s AND week_start < %(w)s AND status = %(s)s"
        " AND write_id IN (SELECT write_id FROM (SELECT write_id, week_start FROM raffle_weeks WHERE raffle = %(r)s"
        " AND week_start < %(w)s ORDER BY version DESC LIMIT 1 BY week_start))",
        {"r": raffle, "w": week.start, "s": WINNER}).to_pylist()
    return {row["user_id"] for row in rows}


@dataclass(frozen=True)
class Verification:
    matches: bool
    checks: tuple[tuple[str, bool, str], ...]  # (what was checked, passed, in words)

    @property
    def verdict(self) -> str:
        return "MATCH: the stored winners follow from the stored participants and the committed salt." \
            if self.matches else "MISMATCH: " + "; ".join(text for _, passed, text in self.checks if not passed) + "."


def verify(db: Database, settings: Settings, raffle: str, week: Week, *, version: int | None = None,
           salt: str | None = None) -> Verification:
    """Recompute the draw from what is stored plus the salt (the file, or one an auditor was given)."""
    current = stored(db, raffle, week, version)
    if current is None:
        raise ParameterError("week", week.start.isoformat(), f"a week that has been drawn ({week.label} has not)")
    setup = next(item for item in setups(db, raffle) if item.version == current.setup_version)
    salt = salt if salt is not None else read_salt(settings, setup)
    listed = stored_participants(db, current).to_pylist()
    rows = stored_picks(db, current)
    list_hash = participants_hash((row["user_id"], row["excluded"]) for row in listed)
    pool = [row["user_id"] for row in listed if not row["excluded"]]
    expected = picks(seed(salt, raffle, week.start, list_hash), pool, len(rows)) if len(rows) <= len(pool) else []
    checks = (
        ("salt", commitment(salt) == setup.commitment,
         "the salt's SHA-256 equals the commitment published at setup" if commitment(salt) == setup.commitment
         else "the salt does not match the commitment published at setup"),
        ("salt fixed in time", setup.created_at < week.closes,
         f"the salt was fixed {setup.created_at:%d.%m.%Y %H:%M} UTC, before the week closed"
         if setup.created_at < week.closes else "the salt was fixed after the week closed"),
        ("participants", list_hash == current.participants_hash,
         f"the {len(listed)} stored participants hash to the stored {current.participants_hash[:12]}…"
         if list_hash == current.participants_hash else "the stored participant list differs from the one drawn from"),
        ("winners", [row["user_id"] for row in rows] == expected,
         f"the {len(rows)} picks are the stream's first {len(rows)}" if [row["user_id"] for row in rows] == expected
         else "the stored picks differ from the ones the stream gives"),
    )
    return Verification(all(passed for _, passed, _ in checks), checks)
