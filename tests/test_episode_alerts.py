"""Episodes become alerts: opened once, reminded when long, resolved with an edit, grouped when much breaks."""

from __future__ import annotations

import datetime as dt

from analytics.monitoring.alerting import Policy, incidents, plan_alerts
from analytics.monitoring.detector import Episode
from analytics.testing.runs import run_context

NOW = dt.datetime(2026, 11, 15, 12)


def episode(dimension: str, *, ongoing: bool = True, start: dt.datetime = NOW - dt.timedelta(hours=3)) -> Episode:
    return Episode("events", dimension, "fall", start, NOW, ongoing, observed=20.0, expected=100.0, low=70.0,
                   high=130.0, points=3)


def test_an_episode_is_alerted_once_reminded_after_four_hours_and_resolved_with_an_edit() -> None:
    alerts, state = plan_alerts("job", "events per hour", [episode("card_show")], {}, NOW, "/runs/1.html")
    [opening] = alerts
    assert opening.kind == "anomaly" and opening.link == "/runs/1.html"
    assert opening.title == "events: card_show fell 80% (events per hour)"
    assert any("expected 70 … 130" in line for line in opening.lines)
    assert any("Since:* 15.11.2026 09:00 UTC" in line for line in opening.lines)
    again, state = plan_alerts("job", "events per hour", [episode("card_show")], state, NOW + dt.timedelta(hours=1), "")
    assert again == []  # the next scan of the same episode says nothing new
    [reminder], state = plan_alerts("job", "events per hour", [episode("card_show")], state,
                                    NOW + dt.timedelta(hours=4), "")
    assert reminder.kind == "reminder" and reminder.title.startswith("Still: ")
    [resolved], state = plan_alerts("job", "events per hour", [episode("card_show", ongoing=False)], state,
                                    NOW + dt.timedelta(hours=5), "")
    assert (resolved.kind, resolved.replaces) == ("resolved", opening.id)
    assert state == {}


def test_an_hourly_episode_quiet_overnight_and_back_in_the_morning_stays_one_episode() -> None:
    policy = Policy(resolve_after=dt.timedelta(hours=12))
    alerts, state = plan_alerts("job", "c", [episode("app_open")], {}, NOW, "", policy)
    assert len(alerts) == 1
    hours = [(5, False), (10, True), (11, False), (20, False)]
    for hour, ongoing in hours:  # quiet at night, anomalous again in the morning, then quiet
        alerts, state = plan_alerts("job", "c", [episode("app_open", ongoing=ongoing)], state,
                                    NOW + dt.timedelta(hours=hour), "", policy)
        assert [a.kind for a in alerts] == ([] if hour != 10 else ["reminder"])  # 10 h open: a reminder, no new alert
    [resolved], state = plan_alerts("job", "c", [], state, NOW + dt.timedelta(hours=23, minutes=1), "", policy)
    assert resolved.kind == "resolved" and state == {}


def test_the_same_scan_twice_gives_the_same_alert_ids() -> None:
    first, _ = plan_alerts("job", "c", [episode("a")], {}, NOW, "")
    second, _ = plan_alerts("job", "c", [episode("a")], {}, NOW + dt.timedelta(minutes=5), "")
    assert [a.id for a in first] == [a.id for a in second]  # a rerun after a kill queues nothing new


def test_metrics_moving_in_one_scan_are_one_grouped_message() -> None:
    broken = [episode(name) for name in ("app_open", "card_show", "card_add")]
    [grouped], state = plan_alerts("job", "events per hour", broken, {}, NOW, "")
    assert grouped.kind == "outage" and grouped.title.startswith("3 metrics moved at once")
    assert len(state) == 3 and {known["message"] for known in state.values()} == {grouped.id}
    alone, _ = plan_alerts("job", "events per hour", broken[:1], {}, NOW, "")
    assert [alert.kind for alert in alone] == ["anomaly"]
    four, _ = plan_alerts("job", "events per hour", broken[:2], {}, NOW, "", Policy(group_at=5))  # configurable
    assert [alert.kind for alert in four] == ["anomaly"] * 2


def test_reminders_edit_the_opening_message_and_come_further_apart() -> None:
    [opening], state = plan_alerts("job", "c", [episode("card_show")], {}, NOW, "")
    reminded = []
    for hour in range(1, 60):
        alerts, state = plan_alerts("job", "c", [episode("card_show")], state, NOW + dt.timedelta(hours=hour), "")
        reminded += [(hour, alert.replaces) for alert in alerts]
    assert reminded == [(4, opening.id), (12, opening.id), (28, opening.id)]  # 4 h, then 8 h, then 16 h later


def test_a_settled_shift_closes_its_incident_as_a_new_level_at_once() -> None:
    rise = Episode("events", "app_open", "rise", NOW - dt.timedelta(days=7), NOW, True, observed=130.0,
                   expected=100.0, low=80.0, high=120.0, points=100)
    [opening], state = plan_alerts("job", "events", [rise], {}, NOW - dt.timedelta(days=6), "/runs/1.html")
    settled = Episode(**{**rise.__dict__, "ongoing": False, "settled": True})
    found, _ = incidents([("events per hour", [settled]), ("events per day", [])])
    [closing], state = plan_alerts("job", "events", found, state, NOW, "", Policy(resolve_after=dt.timedelta(hours=12)))
    assert (closing.kind, closing.replaces) == ("settled", opening.id) and state == {}
    assert closing.title == "New level: events: app_open up 30% since 08.11.2026"
    assert plan_alerts("job", "events", found, state, NOW + dt.timedelta(hours=1), "")[0] == []  # said once


def test_an_episode_that_ended_before_it_was_seen_is_not_alerted() -> None:
    assert plan_alerts("job", "c", [episode("a", ongoing=False)], {}, NOW, "")[0] == []


def test_the_backtest_lists_what_would_have_been_sent(embedded, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The small demo's 60 days: a row per message, each labelled anomaly there, and the first two weeks (no
    history yet) silent."""
    from analytics.reports import monitoring

    monkeypatch.setenv("ANALYTICS_HOME", str(tmp_path))
    truth = embedded.query_arrow("SELECT event, start_date, end_date FROM demo_anomalies "
                                 "WHERE event != 'scenario_step'").to_pylist()  # a broken step: the scenarios page's
    result = monitoring(run_context(embedded), "events", backtest_days=60)
    sent = result.data.to_pylist()
    assert f"Backtest: {len(sent)} messages in the last 60 days would have been sent" in " ".join(result.facts)
    assert len(truth) == 4 and len(sent) <= 6, sent  # the old detector: 32 episodes, each a message
    for anomaly in truth:  # every labelled anomaly is there, on its own event
        assert any(f"events: {anomaly['event']}" in row["series"] for row in sent), anomaly
    first = embedded.scalar("SELECT min(event_time) FROM events")
    assert all(row["opened"] >= first + dt.timedelta(days=14) for row in sent)  # learning, never "rise from 0"
    assert not list((tmp_path / "reports" / "alerts").glob("**/*.json"))  # a backtest alerts nobody


def test_the_hourly_and_the_daily_check_of_one_drop_are_one_incident_and_one_message() -> None:
    hourly = episode("offer_view", start=NOW - dt.timedelta(hours=30))
    daily = episode("offer_view", start=NOW - dt.timedelta(hours=36))  # the day it started, at midnight
    found, seen_by = incidents([("events per hour", [hourly, episode("card_show")]), ("events per day", [daily]),
                                ("events per week", [episode("offer_view", ongoing=False)])])
    assert [item.dimension for item in found] == ["offer_view", "card_show"] and found[0] is daily  # the earliest
    alerts, state = plan_alerts("job", "events", found, {}, NOW, "/runs/1.html", Policy(group_at=5), seen_by=seen_by)
    titles = sorted(alert.title for alert in alerts)
    assert titles == ["events: card_show fell 80% (events per hour)",
                      "events: offer_view fell 80% (events per hour, events per day)"]  # which checks saw it
    again, state = plan_alerts("job", "events", incidents([("events per day", [daily])])[0], state, NOW, "")
    assert [alert.kind for alert in again] == ["resolved"]  # card_show ended; offer_view still one open incident
    assert list(state) == [daily.fingerprint]
