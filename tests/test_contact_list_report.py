"""The contact-list notebook as managers and scripts run it: headless `analytics run` prints the three files,
every row is in one of them, hostile files get a sentence, and a list saved twice is stored once."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.db import connect
from analytics.errors import AnalyticsError
from analytics.hygiene.sample import generate
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.reports import clean_contact_list
from analytics.testing.runs import run_context

from .conftest import REPO

NOTEBOOK = REPO / "notebooks" / "account_managers" / "contact_list.ipynb"


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        delimiter = ";" if ";" in handle.readline() else ","
        handle.seek(0)
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_analytics_run_prints_the_three_files_and_every_row_is_in_one(tmp_path: Path) -> None:
    sample = generate(tmp_path / "list.csv", 3000, seed=5)
    environment = {**os.environ, "ANALYTICS_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "run", str(NOTEBOOK), "--url",
                           f"chdb://{tmp_path / 'store'}", "-p", "source", str(sample.path)],
                          capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    files = [Path(line) for line in done.stdout.splitlines() if line.endswith(".csv")]
    assert sorted(path.name.split("_")[1] for path in files) == ["clean", "duplicates", "rejected"]
    numbers = [int(row["Row in the file"]) for path in files for row in rows_of(path)]
    assert sorted(numbers) == list(range(2, 3002))  # every input row in exactly one file


@pytest.mark.parametrize(("content", "sentence"), [
    (b"\x00\x01\x02PK binary" * 100, "not a table"),
    (b"", "empty"),
    ("Телефон;Имя\n".encode(), "header but no rows"),
])
def test_a_hostile_file_gets_a_sentence_and_writes_nothing(tmp_path: Path, content: bytes, sentence: str) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    settings = load_settings(home=tmp_path, db_url=f"chdb://{tmp_path / 'store'}")
    with connect(settings.database_url) as db, pytest.raises(AnalyticsError, match=sentence):
        run_report(clean_contact_list, declaration(NOTEBOOK), {"source": str(path)}, run_context(db, settings))
    assert not list((tmp_path / "reports" / "exports").rglob("*.*")) if (tmp_path / "reports" / "exports").exists() else True


def test_formulas_a_giant_cell_and_200_columns_are_rows_not_tracebacks(tmp_path: Path) -> None:
    header = ";".join(["Телефон", "Имя", *(f"c{i}" for i in range(198))])
    rows = [";".join(["=HYPERLINK(\"http://x\")", "Анна", *([""] * 198)]),
            ";".join(["+7 912 345-67-89", "x" * 1_000_000, *([""] * 198)]),
            ";".join(["8 (912) 345-67-80", "@SUM(A1)", *([""] * 198)])]
    path = tmp_path / "list.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    settings = load_settings(home=tmp_path, db_url=f"chdb://{tmp_path / 'store'}")
    with connect(settings.database_url) as db:
        outcome = run_report(clean_contact_list, declaration(NOTEBOOK), {"source": str(path)}, run_context(db, settings))
    assert len(outcome.files) == 6  # three files, XLSX and CSV each
    rejected = next(query for query in outcome.query.also if query.label == "Rejected rows").data.to_pylist()
    reasons = {row["row"]: row["reason"] for row in rejected}
    assert "phone" in reasons[2] and "longer than 10,000" in reasons[3]
    assert [row["row"] for row in outcome.query.data.to_pylist()] == [4]  # the formula-looking name is only text


def test_a_list_saved_twice_is_stored_once_and_the_next_file_is_checked_against_it(tmp_path: Path) -> None:
    sample = generate(tmp_path / "list.csv", 500, seed=9)
    settings = load_settings(home=tmp_path, db_url=f"chdb://{tmp_path / 'store'}")
    values = {"source": str(sample.path), "save_as": "spring"}
    with connect(settings.database_url) as db:
        first = run_report(clean_contact_list, declaration(NOTEBOOK), values, run_context(db, settings))
        again = run_report(clean_contact_list, declaration(NOTEBOOK), {**values, "check_stored": False},
                           run_context(db, settings))  # the same rows saved again
        assert any("version 1" in fact for fact in first.query.facts)
        assert any("already saved" in fact for fact in again.query.facts)
        assert db.scalar("SELECT count() FROM contact_lists") == 1
        checked = run_report(clean_contact_list, declaration(NOTEBOOK), {"source": str(sample.path)},
                             run_context(db, settings))
    assert checked.query.data.num_rows == 0  # every row clean the first time is now a duplicate of the list
    duplicates = next(query for query in checked.query.also if query.label == "Duplicates").data.to_pylist()
    assert sum("«spring»" in row["duplicate of"] for row in duplicates) >= first.query.data.num_rows
