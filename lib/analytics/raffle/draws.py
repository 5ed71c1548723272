"""Drawing a raffle-week once, showing it again, redrawing or replacing a winner on purpose, and verifying.

Every draw is a keyed write (:mod:`analytics.ledger`, tables in :mod:`.tables`): participants, picks, then the commit. Running the
same raffle-week again shows the stored draw; a redraw (new participants read, same rules) or a
replacement (the next pick of the same stream) is a new version, and the first stays in history.
The commit's insert token (raffle, week, version) lets only one of two racing draws become that version.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..access.identity import current_user
from ..audit import AuditEvent, audit
from ..config import Settings
from ..db import Database
from ..errors import ParameterError
from ..ledger import CommitConflict, Ledger
from .fairness import commitment, participants_hash, picks, seed
from .setup import Raffle, Week, ensure_tables, in_force, participants, read_salt, setups
from .tables import DRAWS, PARTICIPANTS, WEEKS

WINNER, REPLACED = "winner", "replaced (unreachable)"
PAST_WINNER = "won an earlier week"


#: the draws: rows in ``raffle_participants`` and ``raffle_draws``, the commit in ``raffle_weeks``
LEDGER = Ledger(WEEKS, stamp="drawn_at", prefix="raffle")


class DrawConflict(CommitConflict):
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
    key = _key(raffle, week)
    row = LEDGER.version(db, key, version) if version else LEDGER.current(db, key)
    return Draw(**row) if row else None


def history(db: Database, raffle: str, week: Week) -> list[Draw]:
    """Every draw version of the raffle-week, oldest first."""
    return [Draw(**row) for row in LEDGER.history(db, _key(raffle, week))]


def _key(raffle: str, week: Week) -> dict[str, Any]:
    return {"raffle": raffle, "week_start": week.start}


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


@dataclass(frozen=True)
class _Plan:
    """One draw version about to be written: whose list it drew from, and the picks in order."""

    setup: Raffle
    week: Week
    write_id: str
    participants_write: str
    participants_hash: str
    participants: int
    eligible: int
    winners: int
    picks: list[tuple[int, str]]  # (user, status)
    reason: str
    parameters: Mapping[str, Any]


def draw(writer: Database, settings: Settings, raffle: str, week: Week, *, winners: int, redraw: bool = False,
         user: str = "", now: dt.datetime | None = None, before_commit: Any = None) -> DrawOutcome:
    """The raffle-week's draw: the stored one, or (first time, or ``redraw``) a new one from its participants.

    Whether past winners are left out is the setup's rule, not the caller's: a redraw of an unchanged
    list (and unchanged earlier weeks) gives the same winners.
    """
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
    users = found.column("user_id").to_pylist()
    past = _past_winners(writer, raffle, week) if setup.exclude_past_winners else set()
    excluded = [PAST_WINNER if user_id in past else "" for user_id in users]
    pool = [user_id for user_id, reason in zip(users, excluded, strict=True) if not reason]
    _check_enough(week, winners, len(users), len(pool))
    list_hash = participants_hash(zip(users, excluded, strict=True))
    chosen = picks(seed(read_salt(settings, setup), raffle, week.start, list_hash), pool, winners)
    write_id = LEDGER.write_id()
    LEDGER.add_rows(writer, PARTICIPANTS, PARTICIPANTS.arrow({
        "raffle": [raffle] * len(users), "week_start": [week.start] * len(users), "write_id": [write_id] * len(users),
        "user_id": users, "completed_at": found.column("completed_at").to_pylist(), "excluded": excluded}),
        write_id, "participants")
    parameters = {"raffle": raffle, "week": week.start.isoformat(), "winners": winners, "timezone": setup.timezone,
                  "scenario": setup.scenario, "steps": setup.steps,
                  "exclude_past_winners": setup.exclude_past_winners}
    plan = _Plan(setup, week, write_id, write_id, list_hash, len(users), len(pool), winners,
                 [(user_id, WINNER) for user_id in chosen],
                 "redraw (asked for explicitly)" if current is not None else "first draw", parameters)
    return DrawOutcome(_commit(writer, settings, plan, current, now, user, before_commit), True,
                       history(writer, raffle, week))


def _check_enough(week: Week, winners: int, participants_count: int, eligible: int) -> None:
    if not participants_count:
        raise ParameterError("week", week.start.isoformat(), f"a week in which someone completed every step "
                             f"(nobody did in {week.label})")
    if winners > eligible:
        left = f" ({participants_count - eligible} more won an earlier week)" if eligible < participants_count else ""
        raise ParameterError("winners", winners, f"at most {eligible}: only {eligible} people can win "
                             f"{week.label}{left}")


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
    pool = [row["user_id"] for row in stored_participants(writer, current).to_pylist() if not row["excluded"]]
    if len(rows) >= len(pool):
        raise ParameterError("replace_user", unreachable, "a winner who can be replaced: everyone in the draw "
                             "has been picked already")
    following = picks(seed(read_salt(settings, setup), raffle, week.start, current.participants_hash), pool,
                      len(rows) + 1)[-1]
    statuses = [(row["user_id"], REPLACED if row["user_id"] == unreachable else row["status"]) for row in rows]
    plan = _Plan(setup, week, LEDGER.write_id(), current.participants_write, current.participants_hash,
                 current.participants, current.eligible, current.winners, [*statuses, (following, WINNER)],
                 f"replacement of {unreachable}", {**json.loads(current.parameters), "replaced": unreachable})
    now = (now or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    return DrawOutcome(_commit(writer, settings, plan, current, now, user, None), True, history(writer, raffle, week))


def _commit(writer: Database, settings: Settings, plan: _Plan, current: Draw | None, now: dt.datetime, user: str,
            before_commit: Any) -> Draw:
    """Write the picks, then the commit row (the next version, decided by the commit's token); audit the draw."""
    version = current.version + 1 if current else 1
    raffle, week, size = plan.setup.raffle, plan.week, len(plan.picks)
    LEDGER.add_rows(writer, DRAWS, DRAWS.arrow({
        "raffle": [raffle] * size, "week_start": [week.start] * size, "version": [version] * size,
        "write_id": [plan.write_id] * size, "rank": list(range(1, size + 1)),
        "user_id": [item[0] for item in plan.picks], "status": [item[1] for item in plan.picks],
        "commitment": [plan.setup.commitment] * size, "participants_hash": [plan.participants_hash] * size,
        "drawn_at": [now] * size, "drawn_by": [user] * size}), plan.write_id, "picks")
    if before_commit is not None:
        before_commit()  # tests stop the write here
    row = {"raffle": raffle, "week_start": week.start, "version": version, "write_id": plan.write_id,
           "participants_write": plan.participants_write, "setup_version": plan.setup.version,
           "commitment": plan.setup.commitment, "participants_hash": plan.participants_hash,
           "participants": plan.participants, "eligible": plan.eligible, "winners": plan.winners, "picks": size,
           "reason": plan.reason, "parameters": json.dumps(dict(plan.parameters), sort_keys=True, ensure_ascii=False),
           "drawn_at": now, "drawn_by": user}
    try:
        committed = LEDGER.commit(writer, row)
    except CommitConflict:
        raise DrawConflict(f"The draw of {raffle} for {week.label} could not be saved; try again.") from None
    if committed.won:
        audit(AuditEvent("write", f"raffle:{raffle}", {**plan.parameters, "version": version, "reason": plan.reason},
                         size, run_id=plan.write_id, user=user or current_user()), settings)
    return Draw(**committed.row)  # a racing draw's commit, if it won: both are valid draws of the same stream


def _past_winners(db: Database, raffle: str, week: Week) -> set[int]:
    """Winners of the raffle's earlier weeks, as their current draws stand."""
    if DRAWS.name not in db.tables():
        return set()
    rows = db.query_arrow(
        "SELECT DISTINCT user_id FROM raffle_draws WHERE raffle = %(r)s AND week_start < %(w)s AND status = %(s)s AND "
        + LEDGER.committed("raffle = %(r)s AND week_start < %(w)s", current=True),
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
        _rule_check(db, setup, current, listed),
    )
    return Verification(all(passed for _, passed, _ in checks), checks)


def _rule_check(db: Database, setup: Raffle, current: Draw, listed: list[dict[str, Any]]) -> tuple[str, bool, str]:
    """Whoever the draw left out follows the setup's rule: nobody, or only people who won an earlier week."""
    left_out = {row["user_id"] for row in listed if row["excluded"]}
    if not left_out:
        return "past winners", True, f"nobody was left out ({setup.past_winners_rule})"
    if not setup.exclude_past_winners:
        return "past winners", False, f"{len(left_out)} left out although {setup.past_winners_rule}"
    earlier = db.query_arrow(  # the winners of any committed draw of an earlier week made before this one
        "SELECT DISTINCT user_id FROM raffle_draws WHERE raffle = %(r)s AND week_start < %(w)s AND status = %(s)s AND "
        + LEDGER.committed("raffle = %(r)s AND week_start < %(w)s AND drawn_at <= %(at)s"),
        {"r": current.raffle, "w": current.week_start, "s": WINNER, "at": current.drawn_at})
    stray = left_out - set(earlier.column("user_id").to_pylist())
    if stray:
        return "past winners", False, f"left out without having won an earlier week: {len(stray)} (user {min(stray)}…)"
    return "past winners", True, f"the {len(left_out)} left out won an earlier week ({setup.past_winners_rule})"
