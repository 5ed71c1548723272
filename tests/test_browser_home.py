"""The home page in a real headless Chromium against a real `analytics serve`: each person sees their groups'
tiles only, search finds a report by a word of its description, a tile's number is its report's number with
the tile's values, and a late source shows its tile grey with the date its data stops."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from analytics import load_settings
from analytics.access.users import UsersFile
from analytics.home.store import StoredTile, read_tile, write_tile
from analytics.params import values_from_query
from analytics.results import Headline
from analytics.runner import run_notebook

from .conftest import REPO, Served, report_folders, serving

PASSWORDS = {"anna": "anna-password-1", "oleg": "oleg-password-1", "ira": "ira-password-1"}
TILE_JOBS = ("plastic_cards_daily", "past_audiences_hourly", "audit_trail_hourly")


@dataclass(frozen=True)
class HomeApp:
    served: Served
    home: Path
    notebooks: Path
    db_url: str


@pytest.fixture(scope="module")
def home_app(embedded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeApp]:
    """Three groups' tile reports and their schedules; the cards tile computed by its real job (as `make run`
    does), the activity tile stored fresh, the audiences tile not computed yet."""
    root = tmp_path_factory.mktemp("home-page")
    notebooks = report_folders(root, "account_managers/plastic_cards.ipynb", "marketing/past_audiences.ipynb",
                               "admin/audit_trail.ipynb")
    schedules, home = root / "schedules", root / "home"
    schedules.mkdir()
    for job in TILE_JOBS:
        shutil.copy(REPO / "schedules" / f"{job}.yaml", schedules)
    users = UsersFile(home / "users.json")
    users.add("anna", PASSWORDS["anna"], ["account_managers"])
    users.add("oleg", PASSWORDS["oleg"], ["marketing"])
    users.add("ira", PASSWORDS["ira"], ["admin"])
    environment = {"ANALYTICS_NOTEBOOKS": str(notebooks), "ANALYTICS_SCHEDULES": str(schedules)}
    job = subprocess.run([sys.executable, "-m", "analytics.cli", "run-job", "plastic_cards_daily"], capture_output=True,
                         text=True, timeout=300, env={**os.environ, "ANALYTICS_DB_URL": embedded_url,
                                                      "ANALYTICS_HOME": str(home), **environment})
    assert job.returncode == 0, job.stderr
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    write_tile(home / "reports" / "tiles", StoredTile(
        "audit_trail_hourly", "admin/audit_trail.ipynb", status="ran", finished_at=now, refreshed_at=now,
        headline=Headline("Exports today", 4.0, data_until=now)))
    with serving(embedded_url, home, ip="0.0.0.0", **environment) as served:
        yield HomeApp(served, home, notebooks, embedded_url)


def signed_in(browser, app: HomeApp, name: str):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.goto(app.served.base + "login")
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("li.report")
    return context, page


def tile_jobs(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [tile.get_attribute("data-job") for tile in page.locator("a.tile").all()]


def test_each_person_sees_the_tiles_of_their_groups_only(browser, home_app: HomeApp) -> None:  # type: ignore[no-untyped-def]
    for name, jobs in (("anna", ["plastic_cards_daily"]), ("oleg", ["past_audiences_hourly"]),
                       ("ira", ["plastic_cards_daily", "past_audiences_hourly", "audit_trail_hourly"])):
        context, page = signed_in(browser, home_app, name)
        try:
            assert tile_jobs(page) == jobs, name
            if name == "oleg":  # its job has not run yet: the tile says when it will
                text = page.inner_text("a.tile")
                assert "Not computed yet — refreshed" in text and "pending" in page.get_attribute("a.tile", "class")
        finally:
            context.close()


def test_search_finds_a_report_by_a_word_of_its_description(browser, home_app: HomeApp) -> None:  # type: ignore[no-untyped-def]
    context, page = signed_in(browser, home_app, "ira")
    try:
        page.fill("input[name=q]", "barcodes")
        page.press("input[name=q]", "Enter")
        page.wait_for_selector("text=1 report found.")
        assert page.locator("li.report a").all_inner_texts() == ["Plastic cards issued"]
        assert page.locator("a.tile").count() == 0  # the found reports stand alone
        page.goto(home_app.served.base + "?q=sub_id")
        assert page.locator("li.report a").all_inner_texts() == ["Past audiences"]
    finally:
        context.close()
    context, page = signed_in(browser, home_app, "anna")
    try:  # a report of another group is not found either
        page.goto(home_app.served.base + "?q=sub_id")
        assert page.locator("li.report").count() == 0 and "No report has these words" in page.inner_text("main")
    finally:
        context.close()


def test_a_tiles_number_equals_its_reports_number_with_the_tiles_values(browser, home_app: HomeApp,
                                                                        tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context, page = signed_in(browser, home_app, "anna")
    try:
        tile = page.locator("a.tile[data-job=plastic_cards_daily]")
        shown = int(tile.locator(".figure").inner_text().replace(",", ""))
        link = urlsplit(tile.get_attribute("href") or "")
        values = values_from_query(link.query)
        assert unquote(link.path).endswith("/voila/render/account_managers/plastic_cards.ipynb")
        assert values["start"] == values["end"]  # the one day the figure counts
        settings = load_settings(home=tmp_path, db_url=home_app.db_url, notebooks=home_app.notebooks)
        run = run_notebook(home_app.notebooks / "account_managers" / "plastic_cards.ipynb", values, settings=settings)
        assert run.rows == shown
        assert run.headline is not None and run.headline["value"] == shown

        tile.click()  # the tile opens the report's form filled with those values
        page.wait_for_selector(".param-partner_id select", timeout=60_000)
        assert "start=" + values["start"] in page.url
    finally:
        page.goto("about:blank")
        context.close()


def test_a_late_source_shows_its_tile_grey_with_the_date_its_data_stops(browser, home_app: HomeApp) -> None:  # type: ignore[no-untyped-def]
    stored = read_tile(home_app.home / "reports" / "tiles", "plastic_cards_daily")
    assert stored is not None and stored.headline is not None and isinstance(stored.headline.data_until, dt.date)
    until = stored.headline.data_until  # the demo's data ends on 15.11.2026: long before today
    context, page = signed_in(browser, home_app, "ira")
    try:
        late = page.locator("a.tile[data-job=plastic_cards_daily]")
        fresh = page.locator("a.tile[data-job=audit_trail_hourly]")
        assert "late" in (late.get_attribute("class") or "") and "late" not in (fresh.get_attribute("class") or "")
        assert late.locator(".fresh").inner_text() == f"No new data since {until:%d.%m.%Y}"
        assert fresh.locator(".fresh").inner_text().startswith(f"Data until {dt.date.today():%d.%m.%Y}, refreshed today")

        def background(tile) -> str:  # type: ignore[no-untyped-def]
            return tile.evaluate("element => getComputedStyle(element).backgroundColor")

        assert background(late) != background(fresh) and background(fresh) == "rgb(255, 255, 255)"
    finally:
        context.close()
