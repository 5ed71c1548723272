"""The CRM loader as people run it: the `crm_delta` schedule headless, the form with Stop, and an amoCRM block
that stops at once, tells on-call once and keeps every later load from asking again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.clients.amocrm import BLOCKED
from analytics.config import Settings
from analytics.crm import store
from analytics.crm.tables import LEADS
from analytics.db import connect
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.reports import load_crm
from analytics.scheduler.jobs import run_job
from analytics.scheduler.schedules import load_schedule
from analytics.testing.fakes import FakeAmoCRM, FakeSlack
from analytics.testing.fakes.slack import BOT_TOKEN
from analytics.testing.runs import run_context

from .conftest import REPO

NOTEBOOK = REPO / "notebooks" / "analysts" / "crm_load.ipynb"


def home_settings(tmp_path: Path, amocrm: FakeAmoCRM, slack: FakeSlack) -> Settings:
    return load_settings({**amocrm.settings(), "ANALYTICS_HOME": str(tmp_path),
                          "ANALYTICS_DB_URL": f"chdb://{tmp_path / 'store'}"},
                         notebooks=REPO / "notebooks", slack_bot_token=BOT_TOKEN, slack_channel="C0ONCALL",
                         slack_api_url=slack.api_url)


def current_ids(settings: Settings) -> set[int]:
    with connect(settings.database_url) as db:
        return {row["id"] for row in db.query_arrow("SELECT id FROM " + store.current(LEADS, columns=["id"])).to_pylist()}


def test_the_schedule_loads_changes_and_a_block_stops_at_once_with_one_alert_and_no_request_after(
        tmp_path: Path, amocrm: FakeAmoCRM, slack: FakeSlack) -> None:
    amocrm.add_leads(600)
    settings = home_settings(tmp_path, amocrm, slack)
    schedule = load_schedule(REPO / "schedules" / "crm_delta.yaml", settings.notebooks)
    assert schedule.job == "crm_delta" and schedule.parameters["mode"] == "changes"
    first = run_job(settings, schedule)
    assert first.status == "ran", first.error
    assert current_ids(settings) == set(range(1, 601))  # the first load of changes is everything

    amocrm.add_leads(10)
    amocrm.fail("403")  # the account is blocked from the next request on: every answer is nginx's HTML page
    blocked = run_job(settings, schedule)
    assert blocked.status == "failed" and BLOCKED in blocked.error
    assert amocrm.after(403) == []  # stopped within one request: nothing asked after the 403
    assert len(slack.messages) == 1 and "crm_delta" in slack.messages[0]["text"]  # on-call hears once
    assert BLOCKED in slack.messages[0]["text"]

    before = len(amocrm.requests)
    later = run_job(settings, schedule)  # 15 minutes later: the block is remembered, amoCRM is not asked
    assert later.status == "ran" and len(amocrm.requests) == before
    assert len(slack.messages) == 1
    assert current_ids(settings) == set(range(1, 601))  # what was loaded before the block stays


def test_a_load_from_the_form_tells_on_call_itself_and_the_block_lifted_box_lets_loads_go_on(
        tmp_path: Path, amocrm: FakeAmoCRM, slack: FakeSlack) -> None:
    amocrm.add_leads(300)
    settings = home_settings(tmp_path, amocrm, slack)
    parameters = declaration(NOTEBOOK)
    amocrm.fail("403")
    with connect(settings.database_url) as db:
        with pytest.raises(Exception, match="blocked or the token is refused"):
            run_report(load_crm, parameters, {"mode": "full"}, run_context(db, settings))
        assert len(slack.messages) == 1 and "CRM loads stopped" in slack.messages[0]["text"]
        refused = run_report(load_crm, parameters, {"mode": "full"}, run_context(db, settings))
        assert "Nothing was asked of amoCRM" in refused.query.notices[0].text
        amocrm.blocked = False  # support lifted the block
        lifted = run_report(load_crm, parameters, {"mode": "full", "block_lifted": True}, run_context(db, settings))
    assert current_ids(settings) == set(range(1, 301))
    facts = " ".join(lifted.query.facts)
    assert "Leads: amoCRM listed 300 in all, 300 new versions stored; the store holds 300 current." in facts
    assert len(slack.messages) == 1
    assert lifted.files and all(result.path.is_file() for result in lifted.files)


def test_stop_ends_at_the_page_being_read_with_everything_read_committed_and_the_next_load_goes_on(
        tmp_path: Path, amocrm: FakeAmoCRM, slack: FakeSlack) -> None:
    amocrm.add_leads(2000)
    settings = home_settings(tmp_path, amocrm, slack)
    cancelled = threading.Event()

    def status(text: str) -> None:
        if text.startswith("leads: page 3,"):
            cancelled.set()  # Stop pressed while page 3 comes in

    with connect(settings.database_url) as db:
        stopped = run_report(load_crm, declaration(NOTEBOOK), {"mode": "full", "entities": ["leads"]},
                             run_context(db, settings, cancelled=cancelled, status=status))
        assert stopped.query.notices[0].text.startswith("Stopped at leads page 3: every page read is committed")
        assert len(current_ids(settings)) == 250 + 2 * 249
        again = run_report(load_crm, declaration(NOTEBOOK), {"mode": "full", "entities": ["leads"]},
                           run_context(db, settings))
    row = again.query.data.to_pylist()[0]
    assert row["load"] == "Full, resumed at page 4" and row["outcome"] == "Finished"
    assert current_ids(settings) == set(range(1, 2001))


@pytest.mark.parametrize("values", [
    {"mode": "everything'; DROP TABLE crm_leads; --"},
    {"entities": ["leads", "crm_leads; DROP TABLE x"]},
    {"entities": []},
    {"block_lifted": "yes please"},
])
def test_hostile_values_are_refused_before_amocrm_is_asked(tmp_path: Path, amocrm: FakeAmoCRM, slack: FakeSlack,
                                                           values: dict) -> None:
    settings = home_settings(tmp_path, amocrm, slack)
    with connect(settings.database_url) as db, pytest.raises(Exception, match="not accepted"):
        run_report(load_crm, declaration(NOTEBOOK), values, run_context(db, settings))
    assert amocrm.requests == []
