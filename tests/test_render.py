"""One renderer for the form, the headless output and (next) Slack: data is text everywhere, never markup."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.exports import ExportResult
from analytics.pipeline import RunOutcome
from analytics.render import outcome_html, outcome_record, outcome_text
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
    assert "<th>Title</th>" in page  # the preview carries the files' labels


def test_text_and_record_carry_the_same_facts() -> None:
    text = outcome_text(outcome())
    assert text.splitlines()[0] == f"Recipients of push 1 «{EVIL}»: 2 rows." and "/r/exports/push_report_0.xlsx" in text
    assert outcome_record(outcome()) == {"run_id": "ab12cd34", "report": "push_report", "rows": 2,
                                         "files": ["/r/exports/push_report_0.xlsx"], "headline": None}
