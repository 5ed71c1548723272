"""A manager cleans a big contact list in Chromium: the upload offers the file's columns with the suggested ones
chosen, the status line counts rows, and Cancel at about half way ends with files for the rows looked at (every
one of them in exactly one file, none half-written) and says how many rows were not looked at."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.access.identity import os_user, user_folder
from analytics.hygiene.sample import generate

from .conftest import running_app

ROWS = 300_000
RUN, CANCEL = "button:has-text('Run')", "button:has-text('Cancel')"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contact-list-home")


@pytest.fixture(scope="module")
def app(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = f"chdb://{tmp_path_factory.mktemp('contact-list-store')}"  # nothing stored: every duplicate is in the file
    with running_app(store, home, ANALYTICS_PREHEAT="0") as base:
        yield base


def test_cancel_at_half_way_gives_the_files_of_the_rows_looked_at_and_says_how_many_were_not(
        page, app: str, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sample = generate(tmp_path / "клиенты.csv", ROWS, seed=11)
    page.goto(app + "voila/render/account_managers/contact_list.ipynb")
    page.wait_for_selector("button.param-source", timeout=120_000)
    with page.expect_file_chooser() as chooser:
        page.click("button.param-source")
    chooser.value.set_files(str(sample.path))
    page.wait_for_selector(".field-source .file-chosen :text('клиенты.csv')", timeout=120_000)
    page.wait_for_function("() => document.querySelector('.field-phone_column select').value === 'Телефон'",
                           timeout=60_000)  # the mapping offered from the header, the suggested column chosen
    assert page.input_value(".field-email_column select") == "Эл. почта"

    page.click(RUN)
    page.wait_for_function(f"() => {{ const m = /([\\d,]+) of {ROWS:,} rows/.exec(document.querySelector('.report-form')"
                           f"?.innerText || ''); return m && Number(m[1].replace(/,/g, '')) >= {ROWS // 3}; }}", timeout=180_000)
    page.click(CANCEL)
    page.wait_for_selector(".run-result", timeout=180_000)
    page.wait_for_function("() => { const run = [...document.querySelectorAll('button')]"
                           ".find(button => button.textContent.includes('Run')); return run && !run.disabled; }",
                           timeout=120_000)
    text = page.inner_text(".report-form")
    stopped = re.search(r"Stopped: ([\d,]+) of ([\d,]+) rows looked at; ([\d,]+) were not looked at", text)
    assert stopped, text
    looked, total, left = (int(group.replace(",", "")) for group in stopped.groups())
    assert total == ROWS and looked + left == ROWS and 0 < left < ROWS

    folder = home / "reports" / "exports" / user_folder(os_user())
    files = sorted(folder.glob("contacts_*.csv"))
    assert sorted(path.name.split("_")[1] for path in files) == ["clean", "duplicates", "rejected"]
    numbers = []
    for path in files:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            numbers += [int(row["Row in the file"]) for row in csv.DictReader(handle)]
    assert sorted(numbers) == list(range(2, looked + 2))  # the rows looked at, each in one file, in file order
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]  # no half-written file left
