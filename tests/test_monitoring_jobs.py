"""The scheduled monitoring jobs end to end (`analytics run-job`, real notebooks on the embedded store, the fake
Slack): anomalies alerted once, and a table without new data as one "no new data" alert that pauses them and
resolves when data arrives. Apart from test_scheduler.py so the test workers share the load."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analytics import connect, load_settings
from analytics.home.tiles import open_episodes
from analytics.testing.fakes import FakeSlack
from analytics.warehouse import demo

REPO = Path(__file__).resolve().parents[1]
UTC = dt.UTC


def demo_ending(folder: Path, last_day: dt.date) -> str:
    """The small demo with its last day moved: the monitoring job judges data that is fresh (or not) today."""
    url = f"chdb://{folder / 'store'}"
    with connect(url) as db:
        demo.load(db, "small", 42, end=last_day)
    return url


def monitoring_job(tmp_path: Path, db_url: str, slack: FakeSlack):  # type: ignore[no-untyped-def]
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path), "ANALYTICS_DB_URL": db_url,
           "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks"), "ANALYTICS_SCHEDULES": str(REPO / "schedules"),
           **slack.webhook_settings()}

    def run_job(name: str = "events_monitoring") -> str:
        done = subprocess.run([sys.executable, "-m", "analytics.cli", "run-job", name], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr
    return run_job


def test_the_demo_monitoring_job_alerts_slack_once(tmp_path: Path, slack: FakeSlack) -> None:
    # the demo's days end today (its last hours lie ahead): the data is fresh, so its anomalies are judged
    run_job = monitoring_job(tmp_path, demo_ending(tmp_path, dt.datetime.now(UTC).date()), slack)
    said = run_job()
    titles = [message["text"].splitlines()[0] for message in slack.messages]
    assert "events_monitoring: ran in " in said and f"; {len(titles)} alerts sent to Slack (the webhook's channel)" in said
    assert "; page: http" in said  # the run's page in the app, never a file path
    assert any(title.startswith("[ALERT] events: offer_view fell") for title in titles)  # the last week's anomaly
    assert all(" offer_view fell" in title or " app_open rose" in title for title in titles)  # only labelled ones
    drops = [title for title in titles if " offer_view fell" in title]
    assert len(drops) == 1, titles  # one message for the drop, whichever checks see it
    assert any("Run: " in message["text"] and ".html" in message["text"] for message in slack.messages)
    assert "; no alert" in run_job()  # the same news again is no new alert, and the line says so
    assert len(slack.messages) == len(titles)  # the second run sends no duplicate
    runs = [json.loads(line) for line in (tmp_path / "reports" / "alerts" / "deliveries.jsonl").read_text().splitlines()]
    assert {entry["status"] for entry in runs} == {"sent"} and len(runs) == len(titles)


def test_three_days_without_data_is_one_no_new_data_alert_resolved_when_data_arrives(tmp_path: Path,
                                                                                      slack: FakeSlack) -> None:
    today = dt.datetime.now(UTC).date()
    url = demo_ending(tmp_path, today - dt.timedelta(days=3))
    run_job = monitoring_job(tmp_path, url, slack)
    assert "; 1 alert sent to Slack" in run_job()
    [stale] = [message["text"] for message in slack.messages]
    newest = (today - dt.timedelta(days=3)).strftime("%d.%m.%Y")
    assert stale.startswith(f"[NO NEW DATA] No new data from events since {newest} 23:")  # not the offer_view drop
    assert "anomaly alerts on the series read from events wait until data arrives" in stale
    assert "; no alert" in run_job("product_monitoring")  # another job reading the same table: still one message
    home = load_settings(home=tmp_path)
    assert [title for title in open_episodes(home) if title.startswith("No new data from events")]  # the home tile
    with connect(url) as db:  # the three days arrive late, all at once (the last three again, three days on)
        late = db.query_arrow("SELECT * FROM events WHERE event_date > %(cut)s", {"cut": today - dt.timedelta(days=6)})
        moved = pc.add(late["event_time"], pa.scalar(dt.timedelta(days=3), pa.duration("s")))
        late = late.set_column(late.schema.get_field_index("event_time"), "event_time", moved)
        late = late.set_column(late.schema.get_field_index("event_date"), "event_date",
                               pc.cast(moved, late.schema.field("event_date").type))
        db.insert("events", late)
    said = run_job()
    texts = [message["text"] for message in slack.messages[1:]]
    assert any(text.startswith("[RESOLVED] Data from events arrives again") for text in texts), texts
    assert "sent to Slack" in said
    run_job("product_monitoring")  # the other job reading events sees the data at its next run...
    assert len([text for text in slack.messages if "arrives again" in text["text"]]) == 1  # ...and says nothing new
    assert not [title for title in open_episodes(home) if title.startswith("No new data")]
