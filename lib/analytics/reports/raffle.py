"""The weekly promo raffle report: draw a week once, show it again, redraw or replace on purpose, verify.

Winners and participants come as files (XLSX and CSV); the page says how the draw can be checked
(the commitment published at setup, the participant list's hash) and lists every version of the week.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from ..config import Settings
from ..context import RunContext
from ..db import Database
from ..errors import ParameterError
from ..raffle import DrawOutcome, draw, last_full_week, replace_winner, setups, verify, week_of
from ..raffle.draws import PARTICIPANTS_SQL, PICKS_SQL, Draw, history, stored
from ..raffle.setup import Week, known_raffles
from ..raffle.tables import DRAWS, PARTICIPANTS
from ..words import counted
from .base import Notice, ReportQuery, WritePlan

ACTIONS = ("draw", "redraw", "replace", "verify")
CHECK_HEADERS = {"check": "Check", "passed": "Passed", "detail": "In words"}


def weekly_raffle(ctx: RunContext, raffle: str = "promo_weekly", week: dt.date | None = None, winners: int = 3,
                  action: str = "draw", replace_user: str = "") -> ReportQuery | WritePlan:
    """The winners and participants of one raffle-week: the stored draw, or the plan to draw it (the first time
    it is asked for, a redraw, a replacement) and the commit that writes it."""
    if action not in ACTIONS:
        raise ParameterError("action", action, f"one of {', '.join(ACTIONS)}")
    db = ctx.db
    chosen = _week(db, raffle, week)
    if action == "verify":
        return _verification(db, ctx.settings, raffle, chosen)
    current = stored(db, raffle, chosen)
    if action == "draw" and current is not None:
        return _draw_query(DrawOutcome(current, False, history(db, raffle, chosen)), chosen)
    if action == "replace" and not replace_user:
        raise ParameterError("replace_user", replace_user, "the user ID of the winner who cannot be reached")

    def commit(ctx: RunContext) -> ReportQuery:
        if action == "replace":
            ctx.say(f"Drawing a replacement for {replace_user}")
            outcome = replace_winner(ctx.writer, ctx.settings, raffle, chosen, int(replace_user), user=ctx.user)
        else:
            ctx.say(f"Finding who completed the chain in {chosen.label}")
            outcome = draw(ctx.writer, ctx.settings, raffle, chosen, winners=winners, redraw=action == "redraw",
                           user=ctx.user)
        return _draw_query(outcome, chosen)

    what = {"draw": "the draw", "redraw": "a redraw", "replace": f"a replacement for {replace_user}"}[action]
    return WritePlan(what=f"{what} of {raffle} for {chosen.label}", target=f"raffle:{raffle}", commit=commit,
                     rows=winners, parameters={"raffle": raffle, "week": chosen.start, "action": action},
                     audits_itself=True)


def _week(db: Database, raffle: str, week: dt.date | None) -> Week:
    versions = setups(db, raffle)
    if not versions:
        known = ", ".join(known_raffles(db)) or "none yet (an analyst sets one up with `analytics raffle-setup`)"
        raise ParameterError("raffle", raffle, f"a raffle that is set up (set up: {known})")
    timezone = versions[-1].timezone
    if week is not None:
        return week_of(week, timezone)
    latest = db.scalar("SELECT max(event_date) FROM events") or dt.date.today()
    return last_full_week(min(latest, dt.date.today()), timezone)


def _draw_query(outcome: DrawOutcome, week: Week) -> ReportQuery:
    current = outcome.draw
    key = {"raffle": current.raffle, "week": current.week_start, "version": f"v{current.version}"}
    participants = ReportQuery(name="raffle_participants", title="Participants", sql=PARTICIPANTS_SQL,
                               params=current.bound, key_params=key, headers=PARTICIPANTS.labels, label="Participants",
                               row_noun=("participant", "participants"))
    if outcome.new:
        notice = Notice("ok", f"Drawn now ({current.reason}): version {current.version} of {week.label}.")
    else:
        notice = Notice("info", f"{week.label} was drawn on {current.drawn_at:%d.%m.%Y %H:%M} UTC by "
                        f"{current.drawn_by or 'unknown'}; the stored draw is shown and nothing new was drawn. "
                        "To draw again choose 'redraw' (the first draw stays in history).")
    return ReportQuery(
        name="raffle_winners", title=f"Winners of {current.raffle} for {week.label}", sql=PICKS_SQL,
        params=current.bound, key_params=key, headers=DRAWS.labels, label="Winners", also=(participants,),
        notices=(notice,), facts=_facts(current, outcome.history), effective={"raffle": current.raffle},
        row_noun=("winner", "winners"))


def _facts(current: Draw, versions: list[Draw]) -> list[str]:
    left_out = json.loads(current.parameters).get("exclude_past_winners", True)  # the rule its setup fixed
    facts = [f"{current.participants:,} people completed every step; {current.eligible:,} were in the draw "
             f"({current.participants - current.eligible:,} had won an earlier week). {counted(current.winners, 'winner')}. "
             + ("Past winners were left out of this draw." if left_out else "Past winners could win this draw."),
             f"Check it: the salt's SHA-256, published when the raffle was set up, is {current.commitment}; the "
             f"participant list hashes to {current.participants_hash}. Winners are the first picks of the SHA-256 "
             "stream seeded by (salt, raffle, week, that hash): choose 'verify' to recompute them, or run the "
             "stand-alone verifier in the README on the participants file. A redraw of an unchanged list gives "
             "the same winners."]
    if len(versions) > 1:
        facts.append("History: " + "; ".join(f"version {draw.version} {draw.reason}, {draw.drawn_at:%d.%m.%Y %H:%M} "
                                             f"by {draw.drawn_by or 'unknown'}" for draw in versions) + ".")
    return facts


def _verification(db: Database, settings: Settings, raffle: str, week: Week) -> ReportQuery:
    result = verify(db, settings, raffle, week)
    table = pa.table({"check": [check[0] for check in result.checks], "passed": [check[1] for check in result.checks],
                      "detail": [check[2] for check in result.checks]})
    return ReportQuery(name="raffle_verification", title=f"Verification of {raffle} for {week.label}", sql="",
                       data=table, key_params={"raffle": raffle, "week": week.start}, headers=CHECK_HEADERS,
                       notices=(Notice("ok" if result.matches else "red", result.verdict),), formats=("csv",),
                       row_noun=("check", "checks"))
