"""The weekly raffle: who takes part, a draw anyone can verify, shown again rather than redrawn, kill-safe."""

from __future__ import annotations

import datetime as dt
import inspect
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import Database, connect, load_settings
from analytics.errors import ParameterError
from analytics.raffle import draw, history, participants, replace_winner, setup, setups, stored, verify, week_of
from analytics.raffle.draws import REPLACED, WINNER, stored_picks
from analytics.raffle.fairness import picks
from analytics.raffle.tables import PARTICIPANTS
from analytics.testing.runs import run_context
from analytics.warehouse.schema import WAREHOUSE

REPO = Path(__file__).resolve().parents[1]
MOSCOW = "Europe/Moscow"  # UTC+3: Monday 00:00 there is Sunday 21:00 UTC
WEEK = week_of(dt.date(2026, 11, 11), MOSCOW)  # 09.11–15.11.2026
NOW = dt.datetime(2026, 11, 20)


def _events(rows: list[tuple[int, dt.datetime, int]]) -> dict[str, list]:
    return {"event_time": [row[1] for row in rows], "event_date": [row[1].date() for row in rows],
            "user_id": [row[0] for row in rows], "event": ["scenario_step"] * len(rows), "partner_id": [0] * len(rows),
            "scenario": ["promo_chain"] * len(rows), "step": [row[2] for row in rows], "error_code": [""] * len(rows),
            "platform": ["ios"] * len(rows), "app_version": ["5.1.0"] * len(rows)}


def chain(user: int, first: dt.datetime, steps: tuple[int, ...] = (1, 2, 3), gap: dt.timedelta = dt.timedelta(hours=1),
          last: dt.datetime | None = None) -> list[tuple[int, dt.datetime, int]]:
    rows = [(user, first + index * gap, step) for index, step in enumerate(steps)]
    if last is not None:
        rows[-1] = (user, last, steps[-1])
    return rows


def store_with(path: Path, rows: list[tuple[int, dt.datetime, int]]) -> Database:
    db = connect(f"chdb://{path}")
    db.create_table(WAREHOUSE["events"])
    db.insert("events", WAREHOUSE["events"].arrow(_events(rows)))
    return db


MONDAY_UTC = dt.datetime(2026, 11, 8, 21)  # the week opens: Monday 09.11 00:00 in Moscow


def crowd(count: int = 40) -> list[tuple[int, dt.datetime, int]]:
    return [row for user in range(1, count + 1) for row in chain(user, MONDAY_UTC + dt.timedelta(hours=2 * user))]


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(home=tmp_path / "home")


def test_a_participant_did_every_step_in_order_inside_the_week(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    rows = (chain(1, MONDAY_UTC + dt.timedelta(hours=5))  # all three steps: in
            + chain(2, MONDAY_UTC + dt.timedelta(hours=5), steps=(1, 3))  # missed step 2: out
            + chain(3, MONDAY_UTC + dt.timedelta(days=6), last=dt.datetime(2026, 11, 15, 21))  # last step Monday 00:00: out
            + chain(4, MONDAY_UTC + dt.timedelta(days=6), last=dt.datetime(2026, 11, 15, 20, 59, 59))  # 23:59:59: in
            + chain(5, MONDAY_UTC + dt.timedelta(hours=5), steps=(3, 2, 1))  # out of order: out
            + chain(6, MONDAY_UTC - dt.timedelta(seconds=1)))  # the first step before the week opened: out
    with store_with(tmp_path / "store", rows) as db:
        raffle = setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW,
                       now=dt.datetime(2026, 11, 1))
        found = participants(db, raffle, WEEK)
    assert found.column("user_id").to_pylist() == [1, 4]
    assert found.column("completed_at").to_pylist()[1] == dt.datetime(2026, 11, 15, 20, 59, 59)


def test_the_same_week_and_salt_give_the_same_winners_and_the_verifier_catches_an_added_participant(
        tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    drawn = []
    for name in ("first", "second"):  # two stores, one salt: the draw is a function of what is stored
        with store_with(tmp_path / name, crowd()) as db:
            setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW,
                  now=dt.datetime(2026, 11, 1))
            outcome = draw(db, settings, "weekly", WEEK, winners=5, now=NOW)
            drawn.append([row["user_id"] for row in stored_picks(db, outcome.draw)])
            assert verify(db, settings, "weekly", WEEK).matches
    assert drawn[0] == drawn[1] and len(set(drawn[0])) == 5
    with connect(f"chdb://{tmp_path / 'second'}") as db:
        current = stored(db, "weekly", WEEK)
        assert current is not None
        db.insert(PARTICIPANTS.name, PARTICIPANTS.arrow({
            "raffle": ["weekly"], "week_start": [WEEK.start], "write_id": [current.write_id], "user_id": [999],
            "completed_at": [NOW], "excluded": [""]}))
        result = verify(db, settings, "weekly", WEEK)
    assert not result.matches and result.verdict.startswith("MISMATCH")
    assert "participant list differs" in result.verdict
    assert not verify(db_for(tmp_path / "first"), settings, "weekly", WEEK, salt="0" * 64).matches  # a wrong salt


def db_for(path: Path) -> Database:
    return connect(f"chdb://{path}")


def test_a_stored_draw_is_shown_a_redraw_is_explicit_and_a_replacement_never_repicks(
        tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    with store_with(tmp_path / "store", crowd(12)) as db:
        setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW, now=dt.datetime(2026, 11, 1))
        first = draw(db, settings, "weekly", WEEK, winners=3, now=NOW)
        again = draw(db, settings, "weekly", WEEK, winners=7, now=NOW)
        assert first.new and not again.new and again.draw.version == 1 and again.draw.winners == 3
        winners = [row["user_id"] for row in stored_picks(db, first.draw)]
        replaced = replace_winner(db, settings, "weekly", WEEK, winners[1], now=NOW)
        rows = stored_picks(db, replaced.draw)
        assert [row["user_id"] for row in rows[:3]] == winners
        assert [row["status"] for row in rows] == [WINNER, REPLACED, WINNER, WINNER]
        assert rows[3]["user_id"] not in winners
        assert verify(db, settings, "weekly", WEEK).matches
        redrawn = draw(db, settings, "weekly", WEEK, winners=3, redraw=True, now=NOW)
        assert redrawn.new and redrawn.draw.version == 3
        assert [draw.reason for draw in history(db, "weekly", WEEK)] == [
            "first draw", f"replacement of {winners[1]}", "redraw (asked for explicitly)"]
        assert stored(db, "weekly", WEEK, version=1) == first.draw  # the first draw stays in history
        with pytest.raises(ParameterError, match="at most 12"):
            draw(db, settings, "weekly", WEEK, winners=13, redraw=True, now=NOW)
    with connect(settings.database_url) as audit_db:  # every draw is a write in the audit trail
        reasons = audit_db.query_arrow("SELECT parameters FROM audit_log WHERE action = 'write' AND "
                                       "report = 'raffle:weekly' ORDER BY at").column(0).to_pylist()
    assert len(reasons) == 3 and '"reason": "first draw"' in reasons[0]


def test_past_winners_are_left_out_of_the_next_week(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    next_week = week_of(WEEK.start + dt.timedelta(days=7), MOSCOW)
    rows = crowd(6) + [(user, when + dt.timedelta(days=7), step) for user, when, step in crowd(6)]
    with store_with(tmp_path / "store", rows) as db:
        setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW, now=dt.datetime(2026, 11, 1))
        first = [row["user_id"] for row in stored_picks(db, draw(db, settings, "weekly", WEEK, winners=2, now=NOW).draw)]
        later = draw(db, settings, "weekly", next_week, winners=4, now=NOW + dt.timedelta(days=7))
        assert later.draw.participants == 6 and later.draw.eligible == 4
        assert not set(first) & {row["user_id"] for row in stored_picks(db, later.draw)}
        with pytest.raises(ParameterError, match="won an earlier week"):
            draw(db, settings, "weekly", next_week, winners=5, redraw=True, now=NOW + dt.timedelta(days=7))
        assert verify(db, settings, "weekly", next_week).matches


def test_a_redraw_of_an_unchanged_list_gives_the_same_winners(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    next_week = week_of(WEEK.start + dt.timedelta(days=7), MOSCOW)
    rows = crowd(12) + [(user, when + dt.timedelta(days=7), step) for user, when, step in crowd(12)]
    with store_with(tmp_path / "store", rows) as db:
        setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW, now=dt.datetime(2026, 11, 1))
        draw(db, settings, "weekly", WEEK, winners=3, now=NOW)
        later = dt.datetime(2026, 11, 27)
        first = draw(db, settings, "weekly", next_week, winners=4, now=later)
        again = draw(db, settings, "weekly", next_week, winners=4, redraw=True, now=later)
        assert again.new and again.draw.version == 2 and again.draw.participants_hash == first.draw.participants_hash
        assert [row["user_id"] for row in stored_picks(db, again.draw)] == \
            [row["user_id"] for row in stored_picks(db, first.draw)]


def test_whether_past_winners_may_win_is_fixed_at_setup_not_per_draw(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    next_week = week_of(WEEK.start + dt.timedelta(days=7), MOSCOW)
    rows = crowd(6) + [(user, when + dt.timedelta(days=7), step) for user, when, step in crowd(6)]
    with store_with(tmp_path / "store", rows) as db:
        raffle = setup(db, settings, "open", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW,
                       now=dt.datetime(2026, 11, 1), exclude_past_winners=False)
        assert not raffle.exclude_past_winners and raffle.past_winners_rule == "past winners may win again"
        with pytest.raises(ParameterError, match="past winners may win again"):  # no silent change of the rule
            setup(db, settings, "open", scenario="promo_chain", steps=(1, 2, 3), exclude_past_winners=True)
        assert setup(db, settings, "open", scenario="promo_chain", steps=(1, 2, 3)) == raffle
        draw(db, settings, "open", WEEK, winners=5, now=NOW)
        later = draw(db, settings, "open", next_week, winners=6, now=NOW + dt.timedelta(days=7))
        assert later.draw.eligible == 6 and '"exclude_past_winners": false' in later.draw.parameters
        assert verify(db, settings, "open", next_week).matches
        assert "exclude_past_winners" not in inspect.signature(draw).parameters


def test_the_verifier_catches_someone_left_out_who_never_won(tmp_path: Path, settings,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with store_with(tmp_path / "store", crowd(8)) as db:
        setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW, now=dt.datetime(2026, 11, 1))
        monkeypatch.setattr("analytics.raffle.draws._past_winners", lambda *args: {3})  # an operator's thumb
        draw(db, settings, "weekly", WEEK, winners=2, now=NOW)
        result = verify(db, settings, "weekly", WEEK)
    assert not result.matches and "left out without having won an earlier week: 1 (user 3…)" in result.verdict
    assert [name for name, passed, _ in result.checks if not passed] == ["past winners"]


def test_a_setup_from_before_the_rule_reads_as_past_winners_left_out(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from analytics.raffle.fairness import commitment
    from analytics.raffle.setup import salt_path, write_salt
    from analytics.raffle.tables import RAFFLES

    write_salt(salt_path(settings, "weekly", 1), "cd" * 32)
    with store_with(tmp_path / "store", crowd(6)) as db:
        db.create_table(RAFFLES)  # the table as it was: no rule column
        db.insert(RAFFLES.name, RAFFLES.arrow({
            "raffle": ["weekly"], "version": [1], "title": ["Weekly"], "scenario": ["promo_chain"], "steps": ["1,2,3"],
            "timezone": [MOSCOW], "commitment": [commitment("cd" * 32)], "created_at": [dt.datetime(2026, 11, 1)],
            "created_by": ["someone"]}))
        old = setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3))
        assert old.version == 1 and old.exclude_past_winners
        draw(db, settings, "weekly", WEEK, winners=2, now=NOW)
        assert verify(db, settings, "weekly", WEEK).matches
        newer = setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), new_salt_version=True,
                      exclude_past_winners=False)
        assert newer.version == 2 and not newer.exclude_past_winners
        assert [item.version for item in setups(db, "weekly")] == [1, 2] and "raffle_setups" in db.tables()


def test_plain_messages_for_an_open_week_a_late_salt_no_participants_and_an_unknown_raffle(
        tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    with store_with(tmp_path / "store", crowd(3)) as db:
        with pytest.raises(ParameterError, match="set up"):
            draw(db, settings, "nope", WEEK, winners=1, now=NOW)
        setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW, now=dt.datetime(2026, 11, 18))
        with pytest.raises(ParameterError, match="salt must be fixed before a week closes"):
            draw(db, settings, "weekly", WEEK, winners=1, now=NOW)
        later = week_of(dt.date(2026, 11, 18), MOSCOW)
        with pytest.raises(ParameterError, match="is over"):
            draw(db, settings, "weekly", later, winners=1, now=dt.datetime(2026, 11, 20))
        with pytest.raises(ParameterError, match="nobody did"):
            draw(db, settings, "weekly", later, winners=1, now=dt.datetime(2026, 11, 24))


def test_the_pick_stream_has_no_modulo_bias_and_never_repeats() -> None:
    drawn = picks(b"seed", list(range(3)), 3)
    assert sorted(drawn) == [0, 1, 2]
    counts = [0, 0, 0]
    for index in range(3_000):
        counts[picks(index.to_bytes(4, "big"), [0, 1, 2], 1)[0]] += 1
    assert all(900 < count < 1_100 for count in counts)
    with pytest.raises(ValueError, match="cannot draw"):
        picks(b"seed", [1, 2], 3)


CHILD = """
import datetime as dt, os, signal, sys
from analytics import connect, load_settings
from analytics.raffle import draw, week_of
store, home = sys.argv[1:3]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
with connect("chdb://" + store) as db:
    draw(db, load_settings(home=home), "weekly", week_of(dt.date(2026, 11, 11), "Europe/Moscow"), winners=3,
         now=dt.datetime(2026, 11, 20), before_commit=die)
"""


def test_a_draw_killed_before_its_commit_leaves_the_week_undrawn_and_the_rerun_draws_once(
        tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    with store_with(tmp_path / "store", crowd(10)) as db:
        setup(db, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW, now=dt.datetime(2026, 11, 1))
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "store"), str(settings.home)], capture_output=True,
                           text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO / "lib")})
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    with connect(f"chdb://{tmp_path / 'store'}") as db:
        assert stored(db, "weekly", WEEK) is None  # the picks written before the kill are invisible
        outcome = draw(db, settings, "weekly", WEEK, winners=3, now=NOW)
        draw(db, settings, "weekly", WEEK, winners=3, now=NOW)
        assert outcome.draw.version == 1 and [d.version for d in history(db, "weekly", WEEK)] == [1]
        assert verify(db, settings, "weekly", WEEK).matches


def test_the_raffle_runs_on_the_server_too(server: Database, settings) -> None:  # type: ignore[no-untyped-def]
    raffle = setup(server, settings, "demo_server", scenario="promo_chain", steps=(1, 2, 3), timezone=MOSCOW,
                   now=dt.datetime(2026, 1, 1))
    latest = server.scalar("SELECT max(event_date) FROM events")
    week = week_of(latest - dt.timedelta(days=10), MOSCOW)
    found = participants(server, raffle, week)
    assert found.num_rows > 3
    outcome = draw(server, settings, "demo_server", week, winners=3, now=NOW + dt.timedelta(days=60))
    assert verify(server, settings, "demo_server", week).matches
    assert draw(server, settings, "demo_server", week, winners=3, now=NOW + dt.timedelta(days=60)).draw == outcome.draw


@pytest.mark.parametrize("hostile", ["x' OR 1=1 --", "promo_weekly'; DROP TABLE events; --", "\\'", "ёлочки"])
def test_hostile_raffle_names_are_values_not_sql(embedded: Database, hostile: str) -> None:
    from analytics.reports import weekly_raffle

    with pytest.raises(ParameterError, match="raffle"):
        weekly_raffle(run_context(embedded), hostile)
    assert embedded.scalar("SELECT count() FROM events") > 0


def test_setting_up_twice_keeps_one_setup_and_a_salt_left_by_a_kill_is_the_one_committed(
        scratch_store: Database, settings) -> None:  # type: ignore[no-untyped-def]
    from analytics.raffle.fairness import commitment
    from analytics.raffle.setup import salt_path, setups, write_salt

    write_salt(salt_path(settings, "weekly", 1), "ab" * 32)  # a setup killed after its salt, before its row
    first = setup(scratch_store, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3))
    again = setup(scratch_store, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3))
    assert first == again and len(setups(scratch_store, "weekly")) == 1
    assert first.commitment == commitment("ab" * 32)
    assert oct(salt_path(settings, "weekly", 1).stat().st_mode & 0o777) == "0o600"
    rotated = setup(scratch_store, settings, "weekly", scenario="promo_chain", steps=(1, 2, 3), new_salt_version=True)
    assert rotated.version == 2 and rotated.commitment != first.commitment


def test_the_commands_set_up_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    from analytics.cli import main

    store = tmp_path / "store"
    store_with(store, crowd(8)).close()
    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANALYTICS_DB_URL", f"chdb://{store}")
    assert main(["raffle-setup", "weekly", "--steps", "1,2,3", "--timezone", MOSCOW]) == 0
    assert "Publish this commitment now" in capsys.readouterr().out
    settings = load_settings()
    with connect(f"chdb://{store}") as db:
        db.insert("raffle_setups", db.query_arrow("SELECT * REPLACE (toDateTime('2026-11-01 00:00:00') AS created_at)"
                                                  " FROM raffle_setups"), token="backdated")  # as if set up before the week
        draw(db, settings, "weekly", WEEK, winners=2, now=NOW)
    assert main(["raffle-verify", "weekly", "2026-11-11"]) == 0
    assert capsys.readouterr().out.strip().endswith("committed salt.")
    assert main(["raffle-verify", "weekly", "2026-11-11", "--salt", "f" * 64]) == 1
    assert "MISMATCH: the salt does not match" in capsys.readouterr().out
