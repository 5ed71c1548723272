"""A delivered scheduled run in Chromium against a real `analytics serve` (issue 19, item 3): the Slack
message's link opens the run's page for an account manager the schedule names, who downloads its file; a
marketer gets 403 for the page and the file; the page shows the result, not the notebook."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.access.users import UsersFile
from analytics.delivery.runs import read_manifest
from analytics.scheduler import load_schedules
from analytics.scheduler.jobs import run_job
from analytics.testing.fakes import FakeSlack
from analytics.testing.fakes.slack import BOT_TOKEN

from .conftest import Served, report_folders, serving

JOB = "weekly_plastic_cards"
SCREENSHOTS = Path(os.environ.get("ANALYTICS_SCREENSHOTS", "/tmp/bt-deliver-shots"))


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    """One local Slack for the app and the scheduler of this module (the app's kernels post to it)."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def delivered(embedded_url: str, fake_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Served, Path]]:
    home = tmp_path_factory.mktemp("delivery-home")
    users = UsersFile(home / "users.json")
    users.add("anna", "anna-password-1", ["account_managers"])
    users.add("oleg", "oleg-password-1", ["marketing"])
    notebooks = report_folders(home, "account_managers/plastic_cards.ipynb")
    schedules = home / "schedules"
    schedules.mkdir()
    (schedules / f"{JOB}.yaml").write_text(
        f"job: {JOB}\nnotebook: account_managers/plastic_cards.ipynb\ncron: '0 8 * * 1'\ntimezone: Europe/Moscow\n"
        "parameters: {partner_id: 3, start: '2026-09-01', end: '2026-10-31'}\nalert: file\n"
        "deliver: {to: [account_managers], slack: '#reports'}\n", encoding="utf-8")
    with serving(embedded_url, home, ip="0.0.0.0", ANALYTICS_NOTEBOOKS=str(notebooks),
                 ANALYTICS_SCHEDULES=str(schedules), ANALYTICS_SLACK_CHANNELS="#reports,#account-managers",
                 **fake_slack.bot_settings()) as served:
        yield served, home


def signed_in(browser, link: str, name: str):  # type: ignore[no-untyped-def]
    """A page of a fresh browser that followed ``link`` and signed in as ``name`` on the way."""
    page = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800}).new_page()
    page.goto(link)
    assert "/login" in page.url
    page.fill("#name", name)
    page.fill("#password", f"{name}-password-1")
    with page.expect_navigation():
        page.click("button:has-text('Sign in')")
    return page


def test_the_messages_link_opens_the_run_page_for_a_recipient_and_not_for_a_marketer(
        browser, delivered: tuple[Served, Path], embedded_url: str, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    served, home = delivered
    slack, slack.messages[:] = fake_slack, []
    settings = load_settings(home=home, db_url=embedded_url, notebooks=home / "notebooks", schedules=home / "schedules",
                             slack_bot_token=BOT_TOKEN, slack_channel="C0ALERTS", slack_api_url=slack.api_url)
    [schedule] = load_schedules(settings.schedules, settings.notebooks, settings.users_file)
    run = run_job(settings, schedule)
    assert run.status == "ran", run.error
    [message] = slack.messages
    link = next(word for word in message["text"].split() if word.startswith("http"))
    assert link.endswith(f":{served.port}/runs/{JOB}/{run.run_id}.html")  # where `serve` runs, not a file

    anna = signed_in(browser, link, "anna")
    assert anna.url == link
    content = anna.content()
    for code in ("jp-InputArea", "jp-CodeCell", "In [", "report_page", str(home)):
        assert code not in content, code
    assert anna.locator(".run-result").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    anna.screenshot(path=str(SCREENSHOTS / "run_page.png"), full_page=True)
    manifest = read_manifest(settings, JOB, run.run_id)
    xlsx = next(name for name in manifest.files if name.endswith(".xlsx"))
    button = anna.locator("a.download-xlsx")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") != \
        anna.evaluate("getComputedStyle(document.body).backgroundColor")  # a button, not body text
    with anna.expect_download() as started:
        button.click()
    assert Path(started.value.path()).read_bytes() == manifest.file_path(xlsx).read_bytes()

    oleg = signed_in(browser, link, "oleg")
    assert "Not shared with you" in oleg.content()
    assert oleg.request.get(link).status == 403
    assert oleg.request.get(link.replace(".html", f"/{xlsx}")).status == 403
    assert anna.request.get(link.replace(".html", f"/{xlsx}")).status == 200
    assert anna.request.get(link.replace(".html", "/not_a_file.csv")).status == 404


FORM = "voila/render/account_managers/plastic_cards.ipynb"


def test_send_to_slack_posts_a_link_to_the_filled_form_that_opens_only_for_its_audience(
        browser, delivered: tuple[Served, Path], fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    served, home = delivered
    fake_slack.messages[:] = []
    anna = signed_in(browser, f"{served.base}{FORM}?partner_id=3&start=2026-09-01&end=2026-10-31", "anna")
    anna.wait_for_selector(".send-to-slack select", timeout=120_000)
    assert anna.locator(".send-to-slack button").is_disabled()  # nothing to send before a run
    anna.click("button:has-text('Run')")
    anna.wait_for_selector("a.download-xlsx", timeout=120_000)
    anna.select_option(".send-to-slack select", label="#account-managers")
    anna.click("button:has-text('Send to Slack')")
    anna.wait_for_selector(".slack-status", timeout=30_000)
    assert anna.inner_text(".slack-status") == "Sent to #account-managers."
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    anna.screenshot(path=str(SCREENSHOTS / "send_to_slack.png"), full_page=True)
    [message] = fake_slack.messages
    assert message["channel"] == "#account-managers" and "Sent by anna" in message["text"]
    link = next(word for word in message["text"].split() if word.startswith("http"))
    assert f":{served.port}/{FORM}?" in link and "partner_id=3" in link and "start=2026-09-01" in link

    oleg = signed_in(browser, link, "oleg")  # a marketer: the report is not shared with him
    assert "Not shared with you" in oleg.content() and oleg.request.get(link).status == 403
    again = signed_in(browser, link, "anna")  # the account manager: the form, filled as sent
    again.wait_for_selector(".param-start input", timeout=120_000)
    assert again.input_value(".param-start input") == "01.09.2026"
