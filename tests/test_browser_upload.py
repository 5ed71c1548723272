"""A 30 MB CSV chosen in a real Chromium reaches the report through the form's upload (one websocket message,
over tornado's default 10 MiB limit), is kept byte for byte in the person's private folder, and the report
reads it."""

from __future__ import annotations

import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.access.identity import os_user, user_folder

from .conftest import REPO, running_app

ECHO = REPO / "tests" / "notebooks" / "upload_echo.ipynb"
RUN = "button:has-text('Run')"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("upload-home")


@pytest.fixture(scope="module")
def app(embedded_url: str, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    notebooks = tmp_path_factory.mktemp("upload-notebooks") / "notebooks"
    (notebooks / "analysts").mkdir(parents=True)
    shutil.copy(ECHO, notebooks / "analysts" / ECHO.name)
    shutil.copy(REPO / "notebooks" / "analysts" / "access.json", notebooks / "analysts" / "access.json")
    with running_app(embedded_url, home, ANALYTICS_NOTEBOOKS=str(notebooks), ANALYTICS_PREHEAT="0") as base:
        yield base


def a_csv(path: Path, megabytes: int) -> tuple[bytes, int]:
    """A contact list of about ``megabytes`` MB; its bytes and its number of lines."""
    row = "Иван Петров;8 (912) 345-67-89;ivan.petrov@example.com;7707083893;Москва, ул. Тверская, д. 1\n"
    rows = megabytes * 1024 * 1024 // len(row.encode("utf-8"))
    content = ("name;phone;email;inn;address\n" + row * rows).encode("utf-8")
    path.write_bytes(content)
    return content, rows + 1


def open_echo(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/analysts/upload_echo.ipynb")
    page.wait_for_selector("button.param-source", timeout=120_000)


def choose(page, path: Path):  # type: ignore[no-untyped-def]
    """Click the upload button and pick ``path`` in the file chooser (ipywidgets' file input is not in the page)."""
    with page.expect_file_chooser() as chooser:
        page.click("button.param-source")
    chooser.value.set_files(str(path))
    return chooser.value


@pytest.mark.parametrize("megabytes", [30])
def test_a_big_csv_uploads_and_the_report_reads_it(page, app: str, home: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                  megabytes: int) -> None:
    name = f"clients-list-{megabytes}.csv"
    content, lines = a_csv(tmp_path / name.replace("-", " "), megabytes)
    open_echo(page, app)
    started = time.monotonic()
    chooser = choose(page, tmp_path / name.replace("-", " "))
    assert chooser.element.get_attribute("accept") == ".csv,.xlsx" and not chooser.is_multiple()
    page.wait_for_selector(f".field-source .file-chosen :text('{name}')", timeout=120_000)
    uploaded = time.monotonic() - started
    assert f"{megabytes} MB" in page.inner_text(".field-source .file-chosen")
    page.click(RUN)
    page.wait_for_selector(".run-result, .status.error", timeout=120_000)
    page.wait_for_function("() => { const run = [...document.querySelectorAll('button')]"
                           ".find(button => button.textContent.includes('Run')); return run && !run.disabled; }",
                           timeout=120_000)  # the run is over: its files, or its error
    ran = time.monotonic() - started - uploaded
    status = page.inner_text(".status")
    assert f"{name}: {len(content):,} bytes, {lines:,} lines" in status, status
    print(f"{megabytes} MB upload: {uploaded:.1f} s to the saved file, {ran:.1f} s for the run")  # noqa: T201 - in the report

    root = home / "reports" / "uploads"
    [saved] = (root / user_folder(os_user())).glob(f"*/{name}")
    assert saved.read_bytes() == content
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    for folder in (saved.parent, saved.parent.parent, root):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert "source=" not in (page.get_attribute("a.share", "href") or "")  # a link never names a kept file


def test_a_wrong_file_is_refused_beside_the_field_and_run_says_choose(page, app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_echo(page, app)
    page.click(RUN)
    page.wait_for_selector(".field-source :text('choose a file')", timeout=60_000)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n")
    choose(page, tmp_path / "photo.png")
    page.wait_for_selector(".field-source :text('must be a .csv or .xlsx file')", timeout=60_000)


def test_a_link_fills_the_other_fields_but_cannot_name_a_file_on_the_server(page, app: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/analysts/upload_echo.ipynb?note=hello")
    page.wait_for_function("() => document.querySelector('.param-note input')?.value === 'hello'", timeout=120_000)
    assert page.inner_text(".field-source").count("choose a file") == 0
    page.goto(app + "voila/render/analysts/upload_echo.ipynb?source=/etc/hosts.csv&note=hello")
    page.wait_for_selector(".field-source :text('never named by a link')", timeout=120_000)
    assert page.input_value(".param-note input") == "hello"


def test_a_file_over_the_limit_is_refused_in_a_sentence(page, app: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with (tmp_path / "huge.csv").open("wb") as handle:
        handle.truncate(150 * 1024 * 1024)  # over the 100 MB limit, under the websocket's 200 MB
    open_echo(page, app)
    choose(page, tmp_path / "huge.csv")
    page.wait_for_selector(".field-source :text('files of at most 100 MB are taken')", timeout=120_000)
