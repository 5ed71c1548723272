"""The backtest on the default demo (180 days, about 5.3M events) and on its anomaly-free twin: what on-call
would have received, one row per message. The labelled level shift is news once and closes as a new level, the
offer_view drop seen per hour and per day is one message, and data without anomalies sends nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Database, connect
from analytics.reports import monitoring
from analytics.testing.runs import run_context
from analytics.warehouse import demo

DAYS = 60
# the backtest's first day looks back four weeks and two more for growth (scan.GROWTH_WEEKS): older events are
# never read, and loading them cost the suite ~20 s
HISTORY_FROM = demo.DEMO_END - dt.timedelta(days=DAYS + 7 * 6 + 14)
MONITORED = ("events", "demo_anomalies")  # what the monitoring checks read, and the labels


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with connect(f"chdb://{tmp_path_factory.mktemp('default-demo') / 'store'}") as db:
        demo.load(db, "default", 42, only=MONITORED, events_since=HISTORY_FROM)
        yield db


@pytest.fixture(scope="module")
def quiet_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with connect(f"chdb://{tmp_path_factory.mktemp('quiet-demo') / 'store'}") as db:
        demo.load(db, "default", 42, anomalies=False, only=MONITORED, events_since=HISTORY_FROM)
        yield db


def backtest(db: Database, checks: str) -> list[dict]:
    return monitoring(run_context(db), checks, backtest_days=DAYS).data.to_pylist()


def test_the_level_shift_is_one_message_opened_then_settled(default_demo: Database) -> None:
    shifts = [row for row in backtest(default_demo, "events") if "app_open" in row["series"]]
    [shift] = shifts  # not one a day while the baseline catches up
    assert shift["outcome"] == "settled as a new level" and shift["title"].startswith("events: app_open rose")
    assert shift["checks"] == "events per hour, events per day"
    [labelled] = default_demo.query_arrow("SELECT start_date FROM demo_anomalies WHERE kind = 'level_shift'").to_pylist()
    assert shift["opened"].date() == labelled["start_date"]


def test_the_offer_view_drop_is_one_message_for_both_checks(default_demo: Database, tmp_path: Path) -> None:
    rows = backtest(default_demo, "events")
    [drop] = [row for row in rows if "offer_view" in row["series"]]
    assert drop["outcome"] == "still open" and drop["checks"] == "events per hour, events per day"
    assert len(rows) == 3  # the error spike (one message for its three series), the shift, the drop
    [spike] = [row for row in rows if "errors: E_500" in row["series"]]
    assert spike["title"].startswith("2 metrics moved at once")
    assert set(spike["series"].split("; ")) == {"events: error", "errors: E_500"}


@pytest.mark.parametrize("checks", ["events", "scenarios", "product"])
def test_the_anomaly_free_twin_sends_nothing(quiet_twin: Database, checks: str) -> None:
    assert backtest(quiet_twin, checks) == []
