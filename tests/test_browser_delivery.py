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
def delivered(embedded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
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
                 ANALYTICS_SCHEDULES=str(schedules), ANALYTICS_PREHEAT="0") as served:
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
        browser, delivered: tuple[Served, Path], embedded_url: str, slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    served, home = delivered
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
