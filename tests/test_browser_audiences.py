"""The marketer's push audience in a real headless Chromium: cohort ID → funnel → save → the files downloaded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Database, connect
from analytics.access.identity import os_user, user_folder
from analytics.audiences import saved
from analytics.testing.fakes import FakeAmplitude, cohort_csv

from .conftest import running_app
from .test_browser import download


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("marketing-home")


@pytest.fixture(scope="module")
def amplitude_for_app(embedded_url: str) -> Iterator[FakeAmplitude]:
    with FakeAmplitude(polls_before_ready=2) as fake, connect(embedded_url) as db:
        fake.cohorts["browser1"] = cohort_csv(
            db.query_arrow("SELECT amplitude_id FROM users ORDER BY user_id LIMIT 700").column(0).to_numpy())
        yield fake


@pytest.fixture(scope="module")
def app(embedded_url: str, home: Path, amplitude_for_app: FakeAmplitude) -> Iterator[str]:
    with running_app(embedded_url, home, ANALYTICS_PREHEAT="0", **amplitude_for_app.settings()) as base:  # one report used
        yield base


def open_push_audience(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app)
    page.click("text=Push audience")
    page.wait_for_selector(".param-cohort_id input", timeout=60_000)


def test_preview_the_funnel_then_save_and_download_the_groups(page, app: str, home: Path,  # type: ignore[no-untyped-def]
                                                              embedded: Database) -> None:
    open_push_audience(page, app)
    page.fill(".param-cohort_id input", "browser1")
    page.fill(".param-cap_days input", "0")
    page.click("button:has-text('Run')")
    page.wait_for_selector("table.funnel", timeout=120_000)
    page.wait_for_selector("a.download-csv", timeout=120_000)  # the whole outcome, not only its first look
    assert "Nothing is saved yet" in page.inner_text(".run-result")
    sub_id = f"push_browser1_{dt.date.today():%Y%m%d}"
    assert page.input_value(".param-sub_id input") == sub_id  # the suggestion, shown to keep or edit
    steps = page.locator("tr.funnel-step").all_inner_texts()
    assert steps[0].startswith("In the Amplitude cohort") and "700" in steps[0]
    assert any(step.startswith("Control group") for step in steps)
    assert saved(embedded, sub_id) is None  # looking writes nothing

    page.check(".param-save input")
    page.click("button:has-text('Run')")
    page.wait_for_selector("a.download-xlsx", timeout=120_000)
    audience = saved(embedded, sub_id)
    assert audience is not None and f"{audience.target_size:,}" == page.inner_text(".row-count")
    folder = home / "reports" / "exports" / user_folder(os_user())
    for link in page.locator("a.download-csv").all():
        data, name = download(page, f"a[href$='{link.get_attribute('href').rsplit('/', 1)[-1]}']")
        assert data == (folder / name).read_bytes()  # the bytes the browser got are the file on disk
    names = [Path(link.get_attribute("href")).name for link in page.locator("a.download").all()]
    assert any("_target_" in name for name in names) and any("_control_" in name for name in names)
    assert any("left-out" in name for name in names)


def test_a_hostile_cohort_id_is_refused_beside_the_field(page, app: str,  # type: ignore[no-untyped-def]
                                                         amplitude_for_app: FakeAmplitude) -> None:
    asked = len(amplitude_for_app.requests)
    open_push_audience(page, app)
    assert page.locator(".field-cohort_id .field-error").count() == 0  # an empty required field waits: not wrong
    page.fill(".param-cohort_id input", "1'; DROP TABLE users; --")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".field-cohort_id .field-error:has-text('letters, digits')", timeout=60_000)
    assert len(amplitude_for_app.requests) == asked


def test_cancel_ends_the_wait_for_amplitude_and_saves_nothing(page, app: str, embedded: Database,  # type: ignore[no-untyped-def]
                                                              amplitude_for_app: FakeAmplitude) -> None:
    amplitude_for_app.cohorts["waiting1"] = amplitude_for_app.cohorts["browser1"]  # not downloaded yet
    amplitude_for_app.never_ready = True  # Amplitude "prepares" it for the whole 300 s wait
    try:
        open_push_audience(page, app)
        page.fill(".param-cohort_id input", "waiting1")
        page.fill(".param-sub_id input", "push_cancelled_wait")
        page.fill(".param-cap_days input", "0")
        page.check(".param-save input")
        page.click("button:has-text('Run')")
        page.wait_for_selector(".status:has-text('Amplitude is preparing cohort waiting1')", timeout=60_000)
        page.click("button:has-text('Cancel')")
        page.wait_for_selector(".status:has-text('Cancelled')", timeout=10_000)  # not at the end of the 300 s wait
    finally:
        amplitude_for_app.never_ready = False
    assert "no file was written" in page.inner_text(".status")
    assert saved(embedded, "push_cancelled_wait") is None


def test_past_audiences_lists_every_saved_audience(page, app: str, embedded: Database) -> None:  # type: ignore[no-untyped-def]
    stored = embedded.query_arrow("SELECT DISTINCT sub_id, version FROM audiences").num_rows
    assert stored >= 1  # the save of the first test
    page.goto(app)
    page.click("text=Past audiences")
    page.wait_for_selector(".param-sub_id input", timeout=60_000)
    page.click("button:has-text('Run')")  # the default period: the 90 days up to the newest save
    page.wait_for_selector("a.download-xlsx", timeout=120_000)
    assert page.inner_text(".row-count") == f"{stored:,}"
    assert page.locator(".run-result table.preview tbody tr").count() == min(stored, 20)
