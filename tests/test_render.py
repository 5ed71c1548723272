"""One renderer for the form, the headless output and (next) Slack: data is text everywhere, never markup; a
person reads plain numbers, days as dd.mm.yyyy and download buttons, never None, True or e-notation."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.exports import ExportResult
from analytics.pipeline import RunOutcome
from analytics.render import (
    file_size,
    outcome_html,
    outcome_record,
    outcome_text,
    plain_number,
    plain_share,
    plain_words,
    table_html,
)
from analytics.reports import ReportQuery

EVIL = "<script>alert('x')</script>"


def outcome() -> RunOutcome:
    query = ReportQuery(name="push_report", title=f"Recipients of push 1 «{EVIL}»", sql="", facts=[f"Partner {EVIL}"],
                        headers={"title": "Title"})
    preview = pd.DataFrame({"title": [EVIL, "<img src=x onerror=alert(1)>"]})
    files = [ExportResult(Path(f"/r/exports/push_report_{i}.xlsx"), "xlsx", 2) for i in range(1)]
    return RunOutcome("ab12cd34", query, 2, preview, files, {"push_id": "1", "sub_id": EVIL})


def test_a_script_in_any_piece_of_data_is_escaped_in_html() -> None:
    page = outcome_html(outcome(), downloads_url="/exports/", share_url="/voila/render/x.ipynb")
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # the title, the fact
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # a preview cell
    assert "sub_id=%3Cscript%3E" in page  # the share link carries the value URL-encoded
    assert "<th class='text'>Title</th>" in page  # the preview carries the files' labels


def test_text_and_record_carry_the_same_facts() -> None:
    text = outcome_text(outcome())
    assert text.splitlines()[0] == f"Recipients of push 1 «{EVIL}»: 2 rows." and "/r/exports/push_report_0.xlsx" in text
    assert outcome_record(outcome()) == {"run_id": "ab12cd34", "report": "push_report", "rows": 2,
                                         "files": ["/r/exports/push_report_0.xlsx"], "headline": None}


PROGRAM_WORDS = re.compile(r"e-0\d|None|True|False|\(s\)|NaN|nan\b")


def cells(page: str) -> list[tuple[str, str]]:
    """(alignment class, text) of every header and cell of the preview."""
    return re.findall(r"<t[hd] class='(\w+)'>([^<]*)</t[hd]>", page)


@pytest.mark.parametrize(("value", "shown"), [
    (12345, "12,345"), (12345.0, "12,345"), (8.005319, "8.01"), (-57.73, "-57.73"), (0.451549, "0.452"),
    (5.792730e-07, "< 0.001"), (-3e-9, "> -0.001"), (0.0, "0"), (123.45, "123.5"), (1234567.89, "1,234,568"),
    (float("inf"), "infinite")])
def test_numbers_are_plain_never_e_notation(value: float, shown: str) -> None:
    assert plain_number(value) == shown


@pytest.mark.parametrize(("value", "shown"), [(0.1234, "12.3%"), (0.5, "50%"), (1.0, "100%"), (4e-7, "< 0.1%"),
                                              (0.0, "0%"), (-0.25, "-25%")])
def test_shares_are_percentages(value: float, shown: str) -> None:
    assert plain_share(value) == shown


def test_a_table_reads_as_words_headers_align_with_their_cells() -> None:
    frame = pd.DataFrame({
        "partner_id": [1001874, 7], "cards": [12345, 3], "share": [0.1234, None], "p_value": [5.79273e-07, np.nan],
        "issued_at": pd.to_datetime(["2026-10-15 16:14:34", None]), "day": pd.to_datetime(["2026-10-15", "2026-10-16"]),
        "switch": [True, False], "verdict": ["None", None], "first": ["2026-06-02", "x"], "flag": [None, True],
        "when": [dt.date(2026, 6, 2), None]})
    page = table_html(frame, {"cards": "Cards"}, shares=("share",))
    found = cells(page)
    header, first, second = found[:11], found[11:22], found[22:]
    assert [kind for kind, _ in header] == [kind for kind, _ in first] == [kind for kind, _ in second]
    assert dict(zip([text for _, text in header], first, strict=True)) == {
        "partner_id": ("num", "1001874"), "Cards": ("num", "12,345"), "share": ("num", "12.3%"),
        "p_value": ("num", "&lt; 0.001"), "issued_at": ("text", "15.10.2026 16:14:34"), "day": ("text", "15.10.2026"),
        "switch": ("text", "yes"), "verdict": ("text", ""), "first": ("text", "02.06.2026"), "flag": ("text", ""),
        "when": ("text", "02.06.2026")}
    assert [text for _, text in second] == ["7", "3", "", "", "", "16.10.2026", "no", "", "x", "yes", ""]
    assert not PROGRAM_WORDS.search(page.replace("class='preview'", ""))
    assert "<div class='table-box'>" in page  # a wide table scrolls inside its box
    assert page.startswith("<p class='table-note'>11 columns: scroll the table sideways")
    assert "table-note" not in table_html(frame.iloc[:, :10], {})


def result(tmp_path: Path, rows: int, *, noun: tuple[str, str] | None = ("card", "cards"), empty_text: str = ""
           ) -> RunOutcome:
    query = ReportQuery(name="plastic_cards", title="Plastic cards", sql="", row_noun=noun, empty_text=empty_text)
    files = []
    for suffix in ("csv", "xlsx"):  # written CSV first: the page still offers the XLSX first
        path = tmp_path / f"plastic_cards_1.{suffix}"
        path.write_bytes(b"x" * (1536 if suffix == "csv" else 1_300_000))
        files.append(ExportResult(path, suffix, rows))
    return RunOutcome("ab12cd34", query, rows, pd.DataFrame({"card": [f"{n:019d}" for n in range(min(rows, 20))]}),
                      files, {})


def test_downloads_are_buttons_xlsx_first_with_size_and_count(tmp_path: Path) -> None:
    page = outcome_html(result(tmp_path, 12345), downloads_url="/exports/u/")
    xlsx, csv = page.index("class='download download-xlsx'"), page.index("class='download download-csv'")
    assert xlsx < csv
    assert "Download for Excel (XLSX) · 1.2 MB · 12,345 cards</a>" in page
    assert "Download CSV (for other tools) · 1.5 KB · 12,345 cards</a>" in page
    assert "longer than 15 digits" in page and "leading zeros" in page  # why the CSV is not for Excel
    assert "<b class='row-count'>12,345</b> cards. The first 20 are shown below." in page
    assert "a.download" in page  # the button's style travels with the result


def test_one_row_is_one_card_and_a_result_that_is_not_a_list_has_no_count(tmp_path: Path) -> None:
    assert "<b class='row-count'>1</b> card.</p>" in outcome_html(result(tmp_path, 1))
    page = outcome_html(result(tmp_path, 4, noun=None), downloads_url="/exports/u/")
    assert "row-count" not in page and "· 4 rows</a>" in page  # the file still says how many rows it holds


def test_an_empty_result_says_where_the_data_starts_and_offers_no_file(tmp_path: Path) -> None:
    page = outcome_html(result(tmp_path, 0, empty_text="The data starts on 02.06.2026."), downloads_url="/exports/u/")
    assert "No cards for these values.</b> The data starts on 02.06.2026." in page
    assert "download" not in page.replace("a.download", "") and "<table" not in page and "row-count" not in page


def test_the_form_leaves_the_title_to_its_status_line(tmp_path: Path) -> None:
    assert "class='title'" in outcome_html(result(tmp_path, 3))
    assert "class='title'" not in outcome_html(result(tmp_path, 3), title=False)


@pytest.mark.parametrize(("size", "shown"), [(0, "0 bytes"), (1, "1 byte"), (1023, "1,023 bytes"), (1536, "1.5 KB"),
                                             (20_000, "20 KB"), (1_300_000, "1.2 MB"), (3 * 1024**3, "3.0 GB")])
def test_file_sizes_in_a_persons_units(tmp_path: Path, size: int, shown: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * size) if size < 10**7 else None
    if size >= 10**7:
        with path.open("wb") as handle:
            handle.truncate(size)
    assert file_size(path) == shown
    assert file_size(tmp_path / "missing") == ""


@pytest.mark.parametrize(("said", "written"), [
    ("4 check(s), 34 series", "4 checks, 34 series"), ("1 check(s)", "1 check"), ("3 winner(s).", "3 winners."),
    ("7 day(s) recomputed; 1,200 row(s)", "7 days recomputed; 1,200 rows"), ("no count(s) here", "no count(s) here")])
def test_a_reports_n_things_s_is_written_as_a_person_writes_it(said: str, written: str) -> None:
    assert plain_words(said) == written


def test_a_json_record_in_a_cell_reads_as_names_and_values() -> None:
    frame = pd.DataFrame({"parameters": ['{"csv_delimiter": "semicolon", "end": null, "partner_id": 0, "start": '
                                         '"2026-11-09", "columns": ["card_number", "barcode"], "sub_id": ""}', "{not json}"]})
    assert [text for _, text in cells(table_html(frame, {}))[1:]] == [
        "csv_delimiter: semicolon, partner_id: 0, start: 09.11.2026, columns: card_number, barcode", "{not json}"]


def test_a_preview_that_is_the_funnel_is_shown_once_as_bars() -> None:
    steps = (("In the cohort", 10, 0), ("Known users", 8, 2))
    query = ReportQuery(name="audience_funnel", title="Audience preview", sql="", funnel=steps, row_noun=None)
    preview = pd.DataFrame({"step": ["In the cohort", "Known users"], "remaining": [10, 8], "left_out": [0, 2]})
    page = outcome_html(RunOutcome("ab12cd34", query, 2, preview))
    assert page.count("Known users") == 1 and "class='funnel'" in page and "<table class='preview'" not in page


def test_each_results_buttons_count_in_that_results_own_noun() -> None:
    participants = ReportQuery(name="participants", title="Participants", sql="", label="Participants",
                               row_noun=("participant", "participants"))
    query = ReportQuery(name="draw", title="Winners", sql="", label="Winners", also=(participants,),
                        row_noun=("winner", "winners"))
    files = [ExportResult(Path("/r/exports/draw.xlsx"), "xlsx", 3), ExportResult(Path("/r/exports/people.xlsx"), "xlsx", 816)]
    outcome = RunOutcome("ab12cd34", query, 3, pd.DataFrame({"user_id": [1, 2, 3]}), files,
                         file_labels={"draw.xlsx": "Winners", "people.xlsx": "Participants"})
    page = outcome_html(outcome, downloads_url="/exports/")
    assert "3 winners" in page and "816 participants" in page and "816 winners" not in page
