"""`analytics serve`: the start page lists the reports; downloads serve exported files and nothing else."""

from __future__ import annotations

import html
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from analytics.access.identity import os_user, user_folder

from .conftest import report_folders, running_app


@pytest.fixture(scope="module")
def served(embedded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    home = tmp_path_factory.mktemp("serve-home")
    notebooks = report_folders(tmp_path_factory.mktemp("serve"), "account_managers", "analysts/export_builder.ipynb")
    with running_app(embedded_url, home, ANALYTICS_NOTEBOOKS=str(notebooks)) as base:
        yield base.rstrip("/"), home


def get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, b"", {}


def test_start_page_lists_reports_with_description_and_audience(served: tuple[str, Path]) -> None:
    status, body, _ = get(served[0] + "/")
    page = html.unescape(body.decode())
    assert status == 200
    for title in ("Plastic cards issued", "Partner's cards in the app", "Push delivery report", "Export builder"):
        assert title in page
    assert "For: Account managers" in page and "For: Analysts" in page
    assert "with card numbers and barcodes" in page


def test_downloads_serve_export_files_with_name_and_type(served: tuple[str, Path]) -> None:
    base, home = served
    mine = user_folder(os_user())  # on loopback with no sign-in set up, the local user is the visitor
    exports = home / "reports" / "exports" / mine
    exports.mkdir(parents=True, exist_ok=True)
    name = "plastic_cards_Лента_2026-10-01_20261122-101010_0123456789abcdef.xlsx"
    (exports / name).write_bytes(b"PK fake xlsx")
    status, body, headers = get(base + f"/exports/{mine}/" + quote(name))
    assert status == 200 and body == b"PK fake xlsx"
    assert headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''" + quote(name)


@pytest.mark.parametrize("path", ["..%2F..%2Fetc%2Fpasswd", "../runs.log", "%2Fetc%2Fpasswd", ".spool-x.arrow",
                                  "notes.txt", "..%2Flogs%2Fruns.log", "x/..%2F..%2Flogs%2Fruns.log", "x/.spool-x.arrow",
                                  "..%2Fx.csv", "logs/runs.log"])
def test_downloads_refuse_everything_else(served: tuple[str, Path], path: str) -> None:
    base, home = served
    (home / "reports" / "logs").mkdir(parents=True, exist_ok=True)
    (home / "reports" / "logs" / "runs.log").write_text("secret")
    status, body, _ = get(base + "/exports/" + path)
    assert status in (403, 404) and b"secret" not in body


@pytest.mark.parametrize("path", ["voila/api/contents", "voila/api/contents/account_managers", "voila/tree",
                                  "voila/tree/account_managers", "voila/files/account_managers/plastic_cards.ipynb"])
def test_nothing_lists_or_serves_the_notebook_files(served: tuple[str, Path], path: str) -> None:
    status, body, _ = get(served[0] + "/" + path)
    assert status == 404 and b"plastic_cards" not in body


@pytest.mark.parametrize("path", ["/", "/voila/render/account_managers/push_report.ipynb"])
def test_pages_carry_security_headers(served: tuple[str, Path], path: str) -> None:
    status, _, headers = get(served[0] + path)
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "same-origin"
