"""What reports say on a page, in a person's words: counts named per report, plurals written out, no Python
values or e-notation; and the charts where a person would rather look than read (the activity log by day,
the monitoring episodes)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from analytics import Database, connect, load_settings
from analytics.audit import AUDIT_TABLE, AuditEvent, _table
from analytics.monitoring.detector import Episode
from analytics.raffle import demo as raffle_demo
from analytics.reports import (
    audit_trail,
    monitoring,
    partner_cards,
    plastic_cards,
    push_report,
    recalculate_days,
    weekly_raffle,
)
from analytics.reports.monitoring import _rounded
from analytics.results import ReportQuery
from analytics.testing.runs import run_context
from analytics.warehouse import demo
from analytics.warehouse.schema import WAREHOUSE

UNREADABLE = re.compile(r"\de[-+]\d|\bNone\b|\bTrue\b|\bFalse\b|\(s\)|\bnan\b")
DAY = dt.datetime(2026, 11, 10, 12, 0)


def words_of(query: ReportQuery) -> list[str]:
    return [query.title, *query.facts, *(notice.text for notice in query.notices),
            *(chart.title for chart in query.charts)]


@pytest.mark.parametrize(("report", "noun"), [
    (plastic_cards, ("card", "cards")), (partner_cards, ("card", "cards")),
    (push_report, ("recipient", "recipients")),
])
def test_each_list_names_what_its_rows_are(embedded: Database, report, noun: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    query = report(run_context(embedded))
    assert query.row_noun == noun
    assert not [text for text in words_of(query) if UNREADABLE.search(text)]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A store of this module's own that reports may write to (a recalculation, a raffle draw)."""
    with connect(f"chdb://{tmp_path_factory.mktemp('texts')}") as db:
        demo.load(db, "small", 42)
        yield db


def test_a_recalculation_is_not_a_list_and_counts_days_in_words(demo_store: Database) -> None:
    last = demo_store.scalar("SELECT max(event_date) FROM events")
    plan = recalculate_days(run_context(demo_store, writer=demo_store), last, last)
    assert "1 day," in plan.what and "(s)" not in plan.what
    query = plan.commit(run_context(demo_store, writer=demo_store))
    assert query.row_noun is None and query.facts[0].startswith("1 day recomputed")


@pytest.mark.parametrize("winners", [1, 2])
def test_a_raffle_counts_its_winners_in_words(demo_store: Database, tmp_path: Path, winners: int) -> None:
    settings = load_settings(home=tmp_path)
    raffle_demo.set_up_raffle(demo_store, settings)
    ctx = run_context(demo_store, settings, writer=demo_store)
    plan = weekly_raffle(ctx, winners=winners, action="draw" if winners == 1 else "redraw")
    query = plan.commit(ctx)
    assert query.row_noun == ("winner", "winners") and query.also[0].row_noun == ("participant", "participants")
    said = " ".join(words_of(query))
    assert ("1 winner." if winners == 1 else "2 winners.") in said
    assert not [text for text in words_of(query) if UNREADABLE.search(text)]


def _audit_rows(db: Database, events: list[AuditEvent]) -> None:
    if AUDIT_TABLE.name not in db.tables():
        db.create_table(AUDIT_TABLE)
    db.insert(AUDIT_TABLE.name, _table(events))


def test_the_activity_log_draws_events_per_day_with_quiet_days_as_zero(scratch_store: Database) -> None:
    events = [AuditEvent("run", "plastic_cards", user="anna", at=DAY - dt.timedelta(days=offset))
              for offset in (0, 0, 0, 3)]
    events += [AuditEvent("sign_in_refused", user="mallory", at=DAY - dt.timedelta(hours=hour)) for hour in range(25)]
    _audit_rows(scratch_store, events)
    query = audit_trail(run_context(scratch_store), DAY.date() - dt.timedelta(days=6), DAY.date())
    assert query.row_noun == ("event", "events")
    assert [chart.title for chart in query.charts] == ["Events per day"]
    assert Image.open(io.BytesIO(query.charts[0].png)).size == (800, 300)
    only_anna = audit_trail(run_context(scratch_store), DAY.date() - dt.timedelta(days=6), DAY.date(), user="anna")
    assert len(only_anna.charts) == 1
    nobody = audit_trail(run_context(scratch_store), DAY.date(), DAY.date(), user="nobody")
    assert nobody.charts == ()  # nothing to draw: no empty picture


def test_the_monitoring_page_shows_the_alerts_pictures(embedded: Database) -> None:
    query = monitoring(run_context(embedded), "events", backtest_days=30)
    assert query.row_noun == ("message", "messages")  # a backtest lists what would have been sent
    episodes = int(re.search(r"\((\d+) episodes?:", " ".join(query.facts)).group(1))
    assert 0 < len(query.charts) == min(episodes, 6)
    assert all(chart.png.startswith(b"\x89PNG") and "since" in chart.title for chart in query.charts)
    assert not [text for text in words_of(query) if UNREADABLE.search(text)]
    if episodes > 6:
        assert f"The charts show 6 of the {episodes:,} episodes" in " ".join(query.facts)


def test_conversions_on_the_monitoring_page_are_percentages(embedded: Database) -> None:
    query = monitoring(run_context(embedded), "scenarios", backtest_days=60)
    assert query.shares == ("observed", "expected", "low", "high")  # 0.0305 on the page reads 3.05%
    assert not monitoring(run_context(embedded), "events", window_hours=48).shares  # counts stay counts
    drop = Episode("conversion", "promo step 2", "fall", DAY, DAY, True, observed=0.030534, expected=0.061278,
                   low=0.041234, high=0.081234, points=1)
    assert _rounded(drop, ratio=True) == {"observed": 0.0305, "expected": 0.0613, "low": 0.0412, "high": 0.0812}
    assert _rounded(drop, ratio=False)["observed"] == 0.03  # a count keeps 2 decimals


def test_a_monitoring_page_names_the_series_still_learning(scratch_store: Database) -> None:
    """A store whose events start a few days ago: nothing is judged, and the page says why instead of silence."""
    spec = WAREHOUSE["events"]
    scratch_store.create_table(spec)
    hours = [dt.datetime(2026, 11, 1) + dt.timedelta(hours=hour) for hour in range(5 * 24)]
    scratch_store.insert("events", spec.arrow({
        "event_time": hours, "event_date": [moment.date() for moment in hours], "user_id": [1] * len(hours),
        "event": ["app_open"] * len(hours), "partner_id": [0] * len(hours), "scenario": [""] * len(hours),
        "step": [0] * len(hours), "error_code": [""] * len(hours), "platform": ["ios"] * len(hours),
        "app_version": ["1.0"] * len(hours)}))
    query = monitoring(run_context(scratch_store), "events", window_hours=48)
    learning = [fact for fact in query.facts if fact.startswith("Still learning")]
    assert learning and "events all" in learning[0] and "app_open" in learning[0]
    assert query.data.num_rows == 0
