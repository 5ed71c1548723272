"""Signed in, in a real headless Chromium: an account manager runs a report, downloads the file, and the audit
trail has the download with the file's SHA-256; a marketer's report is not on their start page."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Database, connect
from analytics.access.users import UsersFile

from .conftest import Served, report_folders, serving, wait_until
from .test_browser import VALUES, download, fill

MARKETING_TITLE = "Push audience"
MARKETING_TITLES = ["Past audiences", "Push audience", "Retargeting audience", "Weekly promo raffle"]


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three groups' reports: each person must see their own group's and not the others'."""
    return report_folders(tmp_path_factory.mktemp("notebooks"), "account_managers", "analysts/export_builder.ipynb",
                          "marketing")


@pytest.fixture(scope="module")
def signed_app(embedded_url: str, notebooks: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    home = tmp_path_factory.mktemp("signed-home")
    users = UsersFile(home / "users.json")
    users.add("anna", "anna-password-1", ["account_managers"])
    users.add("oleg", "oleg-password-1", ["marketing"])
    with serving(embedded_url, home, ip="0.0.0.0", ANALYTICS_NOTEBOOKS=str(notebooks)) as served:
        yield served, home


def test_an_account_manager_signs_in_runs_downloads_and_the_audit_has_the_files_hash(
        browser, signed_app: tuple[Served, Path], embedded: Database, embedded_url: str) -> None:  # type: ignore[no-untyped-def]
    served, home = signed_app
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(served.base)
        assert "/login" in page.url
        page.fill("#name", "anna")
        page.fill("#password", "anna-password-1")
        page.click("button:has-text('Sign in')")
        page.wait_for_selector("li.report")
        titles = page.locator("li.report a").all_inner_texts()
        assert "Plastic cards issued" in titles and MARKETING_TITLE not in titles and "Export builder" not in titles
        assert "Signed in as anna" in page.inner_text(".user")

        page.click("text=Plastic cards issued")
        page.wait_for_selector(".param-partner_id select", timeout=60_000)
        fill(page, VALUES, embedded.scalar("SELECT name FROM partners WHERE partner_id = 3"))
        page.click("button:has-text('Run')")
        page.wait_for_selector(".run-result", timeout=120_000)
        data, name = download(page, "a.download-xlsx")
        on_disk = home / "reports" / "exports" / "anna" / name  # the signed-in name reached the report's kernel
        assert data == on_disk.read_bytes()
        digest = hashlib.sha256(data).hexdigest()

        def audit_rows() -> dict[str, str]:
            with connect(embedded_url) as db:
                rows = db.query("SELECT action, sha256, client FROM audit_log WHERE user = 'anna' AND file = %(f)s",
                                {"f": name})
            return {row.action: (row.sha256, row.client) for row in rows.itertuples()} if len(rows) == 2 else {}

        found = wait_until(audit_rows, 30, "the download never reached the audit trail")
        assert found["download"][0] == digest and found["export"][0] == digest
        assert found["download"][1] == "127.0.0.1"

        page.goto(served.base)
        page.click("text=Sign out")
        page.wait_for_selector("text=You are signed out.")
        page.goto(served.base)
        assert "/login" in page.url
    finally:
        page.goto("about:blank")  # the report page's kernel shuts down with the page
        context.close()


def test_a_marketer_sees_the_marketing_report_and_not_the_account_managers(browser, signed_app) -> None:  # type: ignore[no-untyped-def]
    served, _ = signed_app
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(served.base + "login")
        page.fill("#name", "oleg")
        page.fill("#password", "oleg-password-1")
        page.click("button:has-text('Sign in')")
        page.wait_for_selector("li.report")
        assert sorted(page.locator("li.report a").all_inner_texts()) == MARKETING_TITLES
        wrong = page.goto(served.base + "voila/render/account_managers/plastic_cards.ipynb")
        assert wrong is not None and wrong.status == 403 and "not shared with you" in page.content()
    finally:
        context.close()
