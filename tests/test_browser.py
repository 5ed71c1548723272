"""The app in a real headless Chromium (Debian's), driven by Playwright, against a real `analytics serve`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Database, connect
from analytics.access.identity import os_user, user_folder
from analytics.warehouse import demo

from .conftest import REPO, SEED, report_folders, running_app

VALUES = {"partner_id": "3", "start": "2026-09-01", "end": "2026-10-31", "csv_delimiter": "semicolon"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def app(embedded_url: str, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    notebooks = report_folders(tmp_path_factory.mktemp("browser"), "account_managers", "analysts/ab_summary.ipynb")
    with running_app(embedded_url, home, ANALYTICS_NOTEBOOKS=str(notebooks)) as base:
        yield base


def open_plastic_cards(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app)
    assert page.locator("li.report").count() >= 4
    assert "For: Account managers" in page.locator("li.report", has_text="Plastic cards issued").inner_text()
    page.click("text=Plastic cards issued")
    page.wait_for_selector(".param-partner_id select", timeout=60_000)


def fill(page, values: dict[str, str], partner_name: str) -> None:  # type: ignore[no-untyped-def]
    page.select_option(".param-partner_id select", label=partner_name)
    page.fill(".param-start input", values["start"])
    page.fill(".param-end input", values["end"])
    page.select_option(".param-csv_delimiter select", label=values["csv_delimiter"])


def download(page, selector: str) -> bytes:  # type: ignore[no-untyped-def]
    with page.expect_download() as started:
        page.click(selector)
    return Path(started.value.path()).read_bytes(), started.value.suggested_filename


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fill_run_preview_download_and_match_the_headless_run(page, app: str, home: Path, embedded: Database,
                                                               embedded_url: str) -> None:  # type: ignore[no-untyped-def]
    partner = embedded.scalar("SELECT name FROM partners WHERE partner_id = 3")
    expected = embedded.scalar("SELECT count() FROM cards WHERE partner_id = 3 AND origin = 'plastic' AND "
                               "issued_at >= '2026-09-01 00:00:00' AND issued_at < '2026-11-01 00:00:00'")
    open_plastic_cards(page, app)
    fill(page, VALUES, partner)
    page.click("button:has-text('Run')")
    page.wait_for_selector(".run-result", timeout=120_000)  # the first look: the rows, before the files
    page.wait_for_selector("a.download-xlsx", timeout=120_000)  # then the whole outcome, with the files
    assert page.inner_text(".row-count") == f"{expected:,}"
    assert page.locator("table.preview tbody tr").count() == min(expected, 20)
    assert partner in page.inner_text(".status")

    downloaded = {}
    for file_format in ("xlsx", "csv"):
        data, name = download(page, f"a.download-{file_format}")
        on_disk = home / "reports" / "exports" / user_folder(os_user()) / name  # loopback, no sign-in: the local user
        assert data == on_disk.read_bytes()  # the bytes the browser got are the file on disk
        downloaded[file_format] = data

    environment = {**os.environ, "ANALYTICS_HOME": str(home / "headless")}
    arguments = [item for name, value in VALUES.items() for item in ("-p", name, value)]
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "run", str(REPO / "notebooks/account_managers/"
                           "plastic_cards.ipynb"), "--url", embedded_url, *arguments],
                          capture_output=True, text=True, env=environment, timeout=300, check=True)
    files = {Path(line).suffix.lstrip("."): Path(line) for line in done.stdout.splitlines()[1:]}
    assert digest(files["xlsx"].read_bytes()) == digest(downloaded["xlsx"])
    assert digest(files["csv"].read_bytes()) == digest(downloaded["csv"])


def test_invalid_form_shows_the_message_and_runs_nothing(page, app: str, home: Path,
                                                         embedded: Database) -> None:  # type: ignore[no-untyped-def]
    exports = home / "reports" / "exports"
    before = sorted(exports.rglob("*"))
    log = home / "reports" / "logs" / "runs.log"
    log_before = log.read_text() if log.exists() else ""
    open_plastic_cards(page, app)
    fill(page, {**VALUES, "start": "2026-10-31", "end": "2026-10-01"},
         embedded.scalar("SELECT name FROM partners WHERE partner_id = 3"))
    page.click("button:has-text('Run')")
    page.wait_for_selector(".field-error", timeout=30_000)
    assert page.locator(".field-error").all_inner_texts() == ["must be on or after the first day (31.10.2026)"]
    assert "nothing was run" in page.inner_text(".status")
    assert sorted(exports.rglob("*")) == before
    assert (log.read_text() if log.exists() else "") == log_before


def test_a_shared_link_prefills_the_form(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/account_managers/plastic_cards.ipynb?partner_id=3&start=2026-09-01&end=2026-10-31")
    page.wait_for_selector(".param-partner_id select", timeout=60_000)
    assert page.input_value(".param-start input") == "01.09.2026"
    assert page.input_value(".param-end input") == "31.10.2026"


def test_a_link_with_wrong_values_says_so_next_to_the_field(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/account_managers/plastic_cards.ipynb?start=2026-10-31&end=2026-10-01")
    page.wait_for_selector(".field-error", timeout=60_000)
    assert page.locator(".field-error").all_inner_texts() == [
        "the link's value was not accepted: must be on or after the first day (31.10.2026)"]


def test_a_link_with_an_unknown_partner_refuses_it_next_to_the_field(page, app: str, home: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/account_managers/plastic_cards.ipynb?partner_id=99999")
    page.wait_for_selector(".field-partner_id .field-error", timeout=60_000)
    assert page.inner_text(".field-partner_id .field-error") == (
        "the link's value was not accepted: there is no partner 99999 in the list")
    assert page.input_value(".param-partner_id select") == ""  # no other partner put in its place
    page.click("button:has-text('Run')")
    page.wait_for_selector(".status.error", timeout=30_000)
    assert page.inner_text(".field-partner_id .field-error") == "choose a partner"
    assert "nothing was run" in page.inner_text(".status")


def test_a_link_with_an_unknown_parameter_names_it(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/account_managers/plastic_cards.ipynb?partner=3&start=2026-09-01")
    page.wait_for_selector(".link-notice", timeout=60_000)
    notice = page.inner_text(".link-notice")
    assert "'partner' is not a parameter of this report" in notice and "partner_id" in notice
    assert page.input_value(".param-start input") == "01.09.2026"  # the known values are still used


def test_the_ab_summary_shows_the_gate_first_the_charts_and_its_workbook(page, app: str, home: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app)
    page.click("text=A/B test summary")
    page.wait_for_selector(".param-experiment select", timeout=60_000)
    page.select_option(".param-experiment select", label="new_onboarding")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".run-result", timeout=120_000)
    result = page.locator(".run-result")
    assert result.locator("> :not(style)").first.get_attribute("class").startswith("notice notice-")  # the ratio check
    assert "Sample ratio" in result.locator(".notice").inner_text()
    assert result.locator("figure.chart img").count() == 2
    assert "App activity:" in result.inner_text()
    data, name = download(page, "a.download-xlsx")
    assert name.startswith("ab_summary_new_onboarding_")
    assert data == (home / "reports" / "exports" / user_folder(os_user()) / name).read_bytes()


@pytest.fixture
def million_rows_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The export builder alone, on a store whose events (the small demo's, repeated) pass a million rows."""
    url = f"chdb://{tmp_path_factory.mktemp('million')}"
    with connect(url) as db:
        demo.load(db, "small", SEED)
        events = db.query_arrow("SELECT * FROM events")
        db.insert("events", [events] * (1_000_000 // events.num_rows))
    home = tmp_path_factory.mktemp("million-home")
    notebooks = report_folders(tmp_path_factory.mktemp("million-notebooks"), "analysts/export_builder.ipynb")
    with running_app(url, home, ANALYTICS_NOTEBOOKS=str(notebooks)) as base:
        yield base, home


def test_cancel_while_a_million_rows_are_written_leaves_no_file(page, million_rows_app) -> None:  # type: ignore[no-untyped-def]
    app, home = million_rows_app
    page.goto(app)
    page.click("text=Export builder")
    page.wait_for_selector(".param-table select", timeout=60_000)
    page.select_option(".param-table select", label="events")
    for name in ("event_time", "user_id", "event"):
        page.check(f".column-{name} input")
    page.fill(".param-start input", "01.08.2026")
    page.fill(".param-end input", "15.11.2026")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".status:has-text('Writing the files: ')", timeout=120_000)  # the file phase, with its rows
    assert " of 1," in page.inner_text(".status")  # "Writing the files: 200,000 of 1,08…"
    page.click("button:has-text('Cancel')")
    page.wait_for_selector(".status:has-text('Cancelled: no file was written.')", timeout=60_000)
    assert page.locator(".run-result").count() == 0 and page.locator("a.download-xlsx").count() == 0
    assert [path for path in (home / "reports" / "exports").rglob("*") if path.is_file()] == []  # temporaries too
