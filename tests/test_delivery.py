"""Scheduled runs that reach people (issue 19, item 3): recipients checked when a schedule is loaded, a run's
manifest and page, and one Slack message per run with the headline and a link to the app, never a file path,
through the alerts' durable outbox (a Slack outage is retried, a rerun sends nothing twice)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analytics import load_settings
from analytics.access.identity import Person
from analytics.access.users import UsersFile
from analytics.config import Settings
from analytics.delivery.links import app_url, record_serve_address, run_page_url
from analytics.delivery.message import figure, headline_line
from analytics.delivery.runs import RunManifest, read_manifest, result_parts, run_page_html
from analytics.delivery.slack_button import slack_button
from analytics.pipeline import RunOutcome
from analytics.results import Headline, ReportQuery
from analytics.scheduler import load_schedules
from analytics.scheduler.jobs import run_job
from analytics.scheduler.schedules import ScheduleError
from analytics.testing.fakes import FakeSlack
from analytics.testing.fakes.slack import BOT_TOKEN
from analytics.web.gate import Gate

from .conftest import REPO

NOTEBOOK = "account_managers/plastic_cards.ipynb"
JOB = "weekly_plastic_cards"
PARAMETERS = "{partner_id: 3, start: '2026-09-01', end: '2026-10-31'}"


def people(home: Path) -> Path:
    users = UsersFile(home / "users.json")
    users.add("anna", "anna-password-1", ["account_managers"])
    users.add("maria", "maria-password-1", ["marketing"])
    users.add("boss", "boss-password-1", ["admin"])
    return users.path


def schedule_file(folder: Path, deliver: str, name: str = f"{JOB}.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"job: {JOB}\nnotebook: {NOTEBOOK}\ncron: '0 8 * * 1'\ntimezone: Europe/Moscow\n"
                    f"parameters: {PARAMETERS}\nalert: file\ndeliver: {deliver}\n", encoding="utf-8")
    return path


def load(tmp_path: Path, deliver: str) -> list:
    schedule_file(tmp_path / "schedules", deliver)
    return load_schedules(tmp_path / "schedules", REPO / "notebooks", people(tmp_path))


def test_a_schedule_delivers_to_groups_and_people_who_may_open_its_report(tmp_path: Path) -> None:
    [schedule] = load(tmp_path, "{to: [account_managers, anna, boss], slack: '#reports'}")
    assert schedule.deliver.to == ("account_managers", "anna", "boss") and schedule.deliver.slack == "#reports"


@pytest.mark.parametrize(("deliver", "expected"), [
    ("{to: [maria]}", "weekly_plastic_cards.yaml: deliver.to: 'maria' may not open "
                      "account_managers/plastic_cards.ipynb (their groups: marketing; the report is for: account_managers)"),
    ("{to: [marketing]}", "weekly_plastic_cards.yaml: deliver.to: the group 'marketing' may not open "
                          "account_managers/plastic_cards.ipynb"),
    ("{to: [nobody]}", "weekly_plastic_cards.yaml: deliver.to: 'nobody' is neither a person of the users file nor a group"),
    ("{slack: reports}", "weekly_plastic_cards.yaml: deliver.slack: a channel such as '#reports'"),
    ("{to: anna, channel: '#x'}", "weekly_plastic_cards.yaml: deliver: channel: unknown field (known: to, slack)"),
    ("{}", "weekly_plastic_cards.yaml: deliver: name who receives the result"),
])
def test_a_recipient_who_may_not_open_the_report_is_refused_at_load_naming_file_and_field(
        tmp_path: Path, deliver: str, expected: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        load(tmp_path, deliver)
    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems
    assert "Traceback" not in str(refused.value)


def test_names_cannot_be_checked_without_the_users_file(tmp_path: Path) -> None:
    schedule_file(tmp_path, "{to: [anna]}")
    with pytest.raises(ScheduleError, match="deliver.to: the users file is not known here"):
        load_schedules(tmp_path, REPO / "notebooks")


def test_a_headline_reads_as_a_sentence_without_e_notation() -> None:
    cards = Headline("Plastic cards issued on 14.11.2026", 12345.0, compared_label="same weekday last week",
                     compared_value=11000.0).as_json()
    assert headline_line(cards, "Plastic cards", 9) == \
        "Plastic cards issued on 14.11.2026: 12,345 (same weekday last week: 11,000)"
    assert headline_line(Headline("Opened", 0.1234, unit="%").as_json(), "", None) == "Opened: 12.3%"
    assert headline_line(Headline("A/B test", None, text="B is better: +3.1%").as_json(), "", 1) == \
        "A/B test: B is better: +3.1%"
    assert headline_line(None, "Plastic cards issued", 1) == "Plastic cards issued: 1 row"
    assert figure(5.79273e-07) == "0" and figure(1234567.5) == "1,234,567.5" and "e" not in figure(1e-9, "%")


def test_links_use_the_public_url_else_where_serve_runs_never_a_file(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    assert app_url(settings) == "http://127.0.0.1:8866/"  # nothing recorded yet: `make run`'s address
    record_serve_address(settings, "127.0.0.1", 8874)
    assert run_page_url(settings, JOB, "0123abcd") == f"http://127.0.0.1:8874/runs/{JOB}/0123abcd.html"
    public = load_settings(home=tmp_path, public_url="https://analytics.example.com")
    assert run_page_url(public, JOB, "0123abcd") == f"https://analytics.example.com/runs/{JOB}/0123abcd.html"


def scheduled(tmp_path: Path, slack: FakeSlack, embedded_url: str) -> tuple[Settings, object]:
    users = people(tmp_path)
    schedule_file(tmp_path / "schedules", "{to: [account_managers], slack: '#reports'}")
    settings = load_settings(home=tmp_path, db_url=embedded_url, notebooks=REPO / "notebooks",
                             slack_bot_token=BOT_TOKEN,
                             slack_channel="C0ALERTS", slack_api_url=slack.api_url)
    record_serve_address(settings, "127.0.0.1", 8874)
    [schedule] = load_schedules(tmp_path / "schedules", settings.notebooks, users)
    return settings, schedule


def test_a_delivered_run_sends_one_message_with_its_headline_and_page_and_a_page_without_code(
        tmp_path: Path, slack: FakeSlack, embedded_url: str) -> None:
    settings, schedule = scheduled(tmp_path, slack, embedded_url)
    run = run_job(settings, schedule)
    assert run.status == "ran", run.error
    manifest = read_manifest(settings, JOB, run.run_id)
    assert manifest is not None and manifest.to == ("account_managers",) and manifest.files
    [message] = slack.messages
    link = f"http://127.0.0.1:8874/runs/{JOB}/{run.run_id}.html"
    assert message["channel"] == "#reports"
    assert headline_line(manifest.headline, manifest.title, manifest.rows) in message["text"]
    assert link in message["text"] and str(tmp_path) not in message["text"]
    page = Path(run.html).read_text(encoding="utf-8")
    for code in ("In [", "jp-InputArea", "jp-CodeCell", "report_page(", "<script", str(tmp_path), str(REPO)):
        assert code not in page, code
    assert "run-result" in page and manifest.title in page
    for name in manifest.files:  # every file a button under the run's page, served from where the run wrote it
        assert f"{run.run_id}/{name}" in page
        assert manifest.file_path(name).is_file()
    anna, maria = Person("anna", frozenset({"account_managers"})), Person("maria", frozenset({"marketing"}))
    assert manifest.may_open(anna, settings.notebooks) and not manifest.may_open(maria, settings.notebooks)


FLUSH = """
import sys
from analytics import load_settings
from analytics.alerts import outbox_for, transport_for
settings = load_settings(home=sys.argv[1], slack_bot_token=sys.argv[2], slack_channel="C0ALERTS", slack_api_url=sys.argv[3])
print(outbox_for(settings).flush(transport_for(settings)).sent)
"""


def test_a_slack_outage_delays_the_message_and_a_rerun_never_sends_it_twice(
        tmp_path: Path, slack: FakeSlack, embedded_url: str) -> None:
    settings, schedule = scheduled(tmp_path, slack, embedded_url)
    slack.down()
    tick = dt.datetime(2026, 11, 16, 5, 0)
    run = run_job(settings, schedule, tick)
    assert run.status == "ran" and slack.messages == []
    waiting = list((tmp_path / "reports" / "alerts" / "outbox").glob("*.json"))
    assert len(waiting) == 1 and json.loads(waiting[0].read_text())["channel"] == "#reports"
    slack.up()
    rerun = run_job(settings, schedule, tick)  # the same tick again (run-job after a kill): its message is known
    assert rerun.status == "ran"
    flushed = subprocess.run([sys.executable, "-c", FLUSH, str(tmp_path), settings.slack_bot_token, slack.api_url],
                             capture_output=True, text=True, check=True)
    assert flushed.stdout.strip() == "0"  # the rerun's flush already sent the waiting one
    assert len(slack.messages) == 1 and run.run_id in slack.messages[0]["text"]


def form_outcome() -> RunOutcome:
    query = ReportQuery("plastic_cards", "Plastic cards of ВкусВилл issued from 01.09.2026 to 31.10.2026", "")
    return RunOutcome("0badc0de", query, 28, pd.DataFrame(),
                      values={"partner_id": 3, "start": dt.date(2026, 9, 1), "columns": ["card_number", "barcode"],
                              "end": None})


def test_send_to_slack_posts_the_headline_and_the_filled_forms_address_once(tmp_path: Path, slack: FakeSlack) -> None:
    settings = load_settings(home=tmp_path, slack_bot_token=BOT_TOKEN, slack_channel="C0ALERTS",
                             slack_api_url=slack.api_url, slack_channels="#reports, #account-managers")
    record_serve_address(settings, "127.0.0.1", 8874)
    button = slack_button(settings, "anna")
    assert button is not None and [value for _, value in button.channel.options] == ["#reports", "#account-managers"]
    button.page_url = "/voila/render/account_managers/plastic_cards.ipynb"
    assert button.button.disabled and button.send() == ""  # nothing to send before a run
    button.watch(lambda: form_outcome())()
    button.channel.value = "#account-managers"
    assert button.send() == "Sent to #account-managers."
    assert button.send() == "Sent to #account-managers."  # a second click: the same message, not sent again
    [message] = slack.messages
    link = ("http://127.0.0.1:8874/voila/render/account_managers/plastic_cards.ipynb?partner_id=3&start=2026-09-01"
            "&columns=card_number&columns=barcode")
    assert message["channel"] == "#account-managers" and link in message["text"]
    assert "Plastic cards of ВкусВилл issued from 01.09.2026 to 31.10.2026: 28 rows" in message["text"]
    assert "Sent by anna" in message["text"]


def test_send_to_slack_says_when_slack_is_down_and_the_message_waits(tmp_path: Path, slack: FakeSlack) -> None:
    settings = load_settings(home=tmp_path, slack_webhook_url=slack.webhook_url)
    button = slack_button(settings, "anna")
    assert [label for label, _ in button.channel.options] == ["the alerts' channel"]  # a webhook has one channel
    button.watch(lambda: form_outcome())()
    slack.down()
    assert "it waits and goes to the alerts' channel with the next delivery" in button.send()
    slack.up()
    assert button.send() == "Sent to the alerts' channel." and len(slack.messages) == 1


def test_no_button_without_slack(tmp_path: Path) -> None:
    assert slack_button(load_settings(home=tmp_path), "anna") is None


def test_a_failed_runs_page_says_so_in_one_sentence_without_traceback_parameters_or_paths(tmp_path: Path) -> None:
    import nbformat  # noqa: PLC0415

    parameters = nbformat.v4.new_code_cell("partner_id = 3", metadata={"tags": ["injected-parameters"]},
                                           outputs=[nbformat.v4.new_output("stream", text="partner_id")])
    failing = nbformat.v4.new_code_cell("report_page(plastic_cards, globals())", outputs=[nbformat.v4.new_output(
        "error", ename="OSError", evalue=f"cannot read {tmp_path}/reports/x.csv", traceback=["Traceback (most recent"])])
    shown = nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": "<div class='run-result'>28 cards</div>", "text/plain": "x"})])
    parts = result_parts(nbformat.v4.new_notebook(cells=[parameters, failing, shown]), [str(tmp_path)])
    assert parts == ["<p class='run-error'>This run failed: cannot read …/reports/x.csv</p>",
                     "<div class='run-result'>28 cards</div>"]


@pytest.mark.parametrize(("path", "kind"), [
    (f"/runs/{JOB}/0123abcd.html", "run"), (f"/runs/{JOB}/0123abcd/plastic_cards_3.xlsx", "run_file"),
    (f"/runs/{JOB}/0123abcd.json", "missing"), (f"/runs/{JOB}/0123abcd/../../users.json", "missing"),
    (f"/runs/{JOB}/0123abcd/sub/x.csv", "missing"), (f"/runs/{JOB}/0123abcd/x.ipynb", "missing"),
])
def test_a_runs_files_have_one_spelling_each(tmp_path: Path, path: str, kind: str) -> None:
    gate = Gate(load_settings(home=tmp_path), "/", "127.0.0.1", kernel_secret="x")
    assert gate.route(path)[0] == kind


def test_a_run_page_leads_with_the_reports_headline(tmp_path: Path) -> None:
    import nbformat  # noqa: PLC0415

    executed = tmp_path / "weekly.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data={"text/html": "<div class='run-result'>28 cards</div>"})])]), executed)
    headline = Headline("Plastic cards issued on 14.11.2026", 1234.0, compared_label="same weekday last week",
                        compared_value=1100.0).as_json()
    manifest = RunManifest(JOB, "0badc0de", NOTEBOOK, "Plastic cards issued", "ran", "2026-11-16T05:00:00+00:00",
                           ("account_managers",), "#reports", {}, headline, 28)
    page = run_page_html(load_settings(home=tmp_path), executed, manifest, "Europe/Moscow")
    assert "<div class=\"figure\">1,234</div>" in page and "same weekday last week: 1,100" in page
    assert "Scheduled run of 16.11.2026 08:00 (Europe/Moscow)" in page
    assert "Sent to Account managers and Slack #reports." in page
