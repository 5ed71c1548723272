"""The Run pipeline on both backends: one query, the same snapshot in every file, progress, cancel, no half files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from pathlib import Path

import openpyxl
import pytest

from analytics import Database, load_settings
from analytics.errors import ParameterError
from analytics.pipeline import RunCancelled, execute
from analytics.reports import export_builder, partner_cards, plastic_cards, push_report
from analytics.testing.runs import run_context


def test_files_agree_with_each_other_and_the_preview(db: Database, tmp_path: Path) -> None:
    seen: list[int | str] = []
    query = partner_cards(run_context(db), 3, dt.date(2026, 9, 1), dt.date(2026, 10, 31), ["card_number", "added_at", "origin"])
    outcome = execute(query, run_context(db, load_settings(home=tmp_path), progress=seen.append), delimiter=";")
    assert outcome.rows == [update for update in seen if isinstance(update, int)][-1] > 0  # rows read, then the files
    assert seen[-1] == f"Writing the files: {outcome.rows:,} of {outcome.rows:,} rows (CSV)…"
    xlsx, csv_file = outcome.files
    sheet = list(openpyxl.load_workbook(xlsx.path).active.iter_rows(values_only=True))
    lines = list(csv.reader(io.StringIO(csv_file.path.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert sheet[0] == ("Card number", "Added to the app at", "Plastic or virtual") and tuple(lines[0]) == sheet[0]
    assert [row[0] for row in sheet[1:]] == [line[0] for line in lines[1:]] == outcome.preview.card_number.tolist()[:20] + [
        row[0] for row in sheet[21:]]
    assert len(sheet) - 1 == len(lines) - 1 == outcome.rows


def test_cancel_stops_the_run_and_leaves_no_file(db: Database, tmp_path: Path) -> None:
    cancelled = threading.Event()
    cancelled.set()
    query = export_builder(run_context(db), "events", ["event_time", "event"], None, None, 0, 1_000_000)
    with pytest.raises(RunCancelled, match="no file was written"):
        execute(query, run_context(db, load_settings(home=tmp_path), cancelled=cancelled))
    assert [p for p in (tmp_path / "reports" / "exports").rglob("*") if p.is_file()] == []


def test_empty_result_still_gives_files_with_headers(db: Database, tmp_path: Path) -> None:
    query = plastic_cards(run_context(db), 3, dt.date(2020, 1, 1), dt.date(2020, 1, 2))
    outcome = execute(query, run_context(db, load_settings(home=tmp_path)))
    assert outcome.rows == 0 and len(outcome.preview) == 0
    assert list(openpyxl.load_workbook(outcome.files[0].path).active.iter_rows(values_only=True))[0][0] == "Card number"


def test_push_report_counts_and_rates(db: Database) -> None:
    push = db.scalar("SELECT push_id FROM pushes ORDER BY push_id LIMIT 1")
    query = push_report(run_context(db), push)
    sent, opened = db.query_arrow("SELECT count() AS s, countIf(isNotNull(opened_at)) AS o FROM push_deliveries "
                                  "WHERE push_id = %(p)s", {"p": push}).to_pylist()[0].values()
    assert f"Sent to {sent:,} people" in query.facts[0] and f"opened by {opened:,}" in query.facts[0]
    assert query.row_noun == ("recipient", "recipients")
    sub_id = db.scalar("SELECT sub_id FROM pushes WHERE push_id = %(p)s", {"p": push})
    assert push_report(run_context(db), 0, sub_id).params == query.params
    latest = db.scalar("SELECT push_id FROM pushes ORDER BY created_at DESC LIMIT 1")
    assert push_report(run_context(db)).params == {"p": latest}


def test_push_report_draws_the_rates_of_the_month_up_to_the_push(db: Database) -> None:
    push = db.scalar("SELECT push_id FROM pushes ORDER BY created_at DESC LIMIT 1")
    charts = push_report(run_context(db), push).charts
    assert len(charts) == 1 and "Delivery and open rates" in charts[0].title
    assert charts[0].png.startswith(b"\x89PNG")


@pytest.mark.parametrize(("call", "field"), [
    (lambda db: push_report(run_context(db), 999999999), "push_id"),
    (lambda db: push_report(run_context(db), 0, "no-such-sub"), "sub_id"),
    (lambda db: push_report(run_context(db), 0, "x' OR 1=1 --"), "sub_id"),
    (lambda db: push_report(run_context(db), 1, "x"), "sub_id"),
    (lambda db: plastic_cards(run_context(db), 99999), "partner_id"),
    (lambda db: export_builder(run_context(db), "users", ["user_id"], None, None, 3), "partner_id"),
])
def test_unknown_ids_are_refused_by_field(db: Database, call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ParameterError) as caught:
        call(db)
    assert caught.value.name == field


def test_a_defaulted_end_obeys_the_period_limit_too(db: Database, tmp_path: Path) -> None:
    """?start=1970-01-01 with an empty end must not escape the 92-day limit because the report chose the end."""
    from analytics.params import FormInvalid, declaration
    from analytics.pipeline import run_report

    from .conftest import REPO

    with pytest.raises(FormInvalid) as refused:
        run_report(plastic_cards, declaration(REPO / "notebooks/account_managers/plastic_cards.ipynb"), {"start": "1970-01-01"},
                   run_context(db, load_settings(home=tmp_path)))
    assert list(refused.value.errors) == ["end"]
    assert refused.value.errors["end"].startswith("the period can be at most 92 days long (left empty, it means ")
    assert not [p for p in (tmp_path / "reports" / "exports").rglob("*") if p.is_file()]


def test_export_files_are_readable_by_their_owner_only(db: Database, tmp_path: Path) -> None:
    query = plastic_cards(run_context(db), 3, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    outcome = execute(query, run_context(db, load_settings(home=tmp_path)))
    assert all(result.path.stat().st_mode & 0o777 == 0o600 for result in outcome.files)


def test_the_first_look_comes_before_any_file_and_matches_the_result(embedded: Database, tmp_path: Path) -> None:
    seen = []
    folder = tmp_path / "reports" / "exports"

    def look(first) -> None:  # type: ignore[no-untyped-def]
        seen.append((first.rows, list(first.files), sorted(path.name for path in folder.rglob("*.xlsx"))))

    outcome = execute(plastic_cards(run_context(embedded), partner_id=3), run_context(embedded, load_settings(home=tmp_path)),
                      first_look=look)
    assert seen == [(outcome.rows, [], [])]  # shown once, with its rows, before the files existed
    assert [result.format for result in outcome.files] == ["xlsx", "csv"]
