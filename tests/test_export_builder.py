"""The export builder (issue 18): every row of the period in the files, or a row limit said in plain words
on the page and in the files ("the first N of M rows"; narrow the period)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import fastexcel
import openpyxl

from analytics import Database, load_settings
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.render import outcome_html
from analytics.reports import export_builder
from analytics.reports.builder import LIMITED_SHEET
from analytics.testing.runs import run_context

from .conftest import REPO

BUILDER = REPO / "notebooks" / "analysts" / "export_builder.ipynb"
PERIOD = {"table": "events", "columns": ["event_time", "event_date", "user_id", "event"],
          "start": "2026-08-01", "end": "2026-11-15"}
PERIOD_COUNT = "SELECT count() FROM events WHERE event_date BETWEEN '2026-08-01' AND '2026-11-15'"


def csv_lines(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig")), delimiter=";"))


def test_the_builder_writes_every_row_of_the_period(db: Database, tmp_path: Path) -> None:
    """No row limit (the notebook's default): the CSV and the XLSX's sheets hold exactly count() of the period."""
    expected = db.scalar(PERIOD_COUNT)
    outcome = run_report(export_builder, declaration(BUILDER), PERIOD, run_context(db, load_settings(home=tmp_path)))
    assert outcome.rows == expected > 0
    assert "first" not in outcome.query.title and not outcome.query.notices
    xlsx, csv_file = outcome.files
    lines = csv_lines(csv_file.path)
    assert len(lines) - 1 == expected
    reader = fastexcel.read_excel(xlsx.path)
    assert sum(reader.load_sheet(name).height for name in reader.sheet_names) == expected
    assert lines[1][1] == db.scalar("SELECT min(event_date) FROM events WHERE event_date >= '2026-08-01'").isoformat()
    assert lines[-1][1] == db.scalar("SELECT max(event_date) FROM events WHERE event_date <= '2026-11-15'").isoformat()


def test_a_row_limit_says_first_n_of_m_on_the_page_and_in_the_files(db: Database, tmp_path: Path) -> None:
    total = db.scalar(PERIOD_COUNT)
    outcome = run_report(export_builder, declaration(BUILDER), {**PERIOD, "row_limit": "1000"},
                         run_context(db, load_settings(home=tmp_path)))
    said = f"first 1,000 of {total:,} rows"
    assert outcome.rows == 1000
    page = outcome_html(outcome)
    assert said in outcome.query.title and "narrow the period" in outcome.query.title
    assert page.count(said) == 2 and "Narrow the period" in page  # the title and the notice above everything
    xlsx, csv_file = outcome.files
    assert all(f"first-1000-of-{total}" in result.path.name for result in outcome.files)
    lines = csv_lines(csv_file.path)
    assert len(lines) - 1 == 1000
    book = openpyxl.load_workbook(xlsx.path, read_only=True)
    assert book.sheetnames == ["Data", LIMITED_SHEET]
    assert sum(1 for _ in book["Data"].iter_rows(min_row=2)) == 1000
    note = [row[0] for row in book[LIMITED_SHEET].iter_rows(values_only=True)]
    book.close()
    assert note[0] == "Note" and said in note[1] and "Narrow the period" in note[1]
    last_day = dt.date.fromisoformat(lines[-1][1])
    assert f"stops them at {last_day:%d.%m.%Y}" in note[1]  # the day the rows reach, not the end of the period


def test_a_row_limit_above_the_rows_of_the_period_changes_nothing(db: Database, tmp_path: Path) -> None:
    total = db.scalar(PERIOD_COUNT)
    query = export_builder(run_context(db), "events", ["event"], dt.date(2026, 8, 1), dt.date(2026, 11, 15), 0, total)
    assert query.title == "events: rows from 01.08.2026 to 15.11.2026" and not query.notices and not query.sheets
