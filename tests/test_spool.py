"""The spool (issue 18): a preview of the whole result, whatever its chunks, and Cancel honoured while the
files are written, leaving no file at all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import load_settings
from analytics.pipeline import RunCancelled, execute
from analytics.render import outcome_html
from analytics.reports import ReportQuery
from analytics.testing.runs import run_context


class ChunkedRows:
    """A stand-in database whose one result arrives in many small chunks (the first one empty)."""

    def __init__(self, chunks: int, rows: int) -> None:
        self.chunks, self.rows = chunks, rows

    def iter_chunks(self, sql: str, params: object = None) -> Iterator[pa.Table]:
        yield pa.table({"n": pa.array([], pa.int64())})
        for start in range(0, self.chunks * self.rows, self.rows):
            yield pa.table({"n": list(range(start, start + self.rows))})


def files_under(home: Path) -> list[Path]:
    """Every file a run left in the exports folders, hidden temporaries and spools included."""
    return [path for path in (home / "reports" / "exports").rglob("*") if path.is_file()]


def test_a_result_in_small_chunks_previews_its_first_20_rows(tmp_path: Path) -> None:
    query = ReportQuery(name="chunked", title="Numbers", sql="SELECT n")
    outcome = execute(query, run_context(ChunkedRows(chunks=12, rows=3), load_settings(home=tmp_path)))  # type: ignore[arg-type]
    assert outcome.rows == 36
    assert outcome.preview.n.tolist() == list(range(20))
    page = outcome_html(outcome)
    assert "The first 20 are shown below." in page and page.count("<td") == 20


@pytest.mark.parametrize("when", ["(XLSX)", "(CSV)", "36 of 36 rows (CSV)"])
def test_cancel_while_the_files_are_written_leaves_no_file(tmp_path: Path, when: str) -> None:
    """Cancel in the first file, in the second (the first, finished, goes too), and as the last one closes."""
    cancelled = threading.Event()
    said: list[int | str] = []

    def progress(update: int | str) -> None:
        said.append(update)
        if isinstance(update, str) and when in update:
            cancelled.set()

    query = ReportQuery(name="chunked", title="Numbers", sql="SELECT n")
    with pytest.raises(RunCancelled, match="no file was written"):
        execute(query, run_context(ChunkedRows(chunks=12, rows=3), load_settings(home=tmp_path),  # type: ignore[arg-type]
                                   progress=progress, cancelled=cancelled))
    assert "Writing the files: 3 of 36 rows (XLSX)…" in said
    assert files_under(tmp_path) == []


def test_the_form_acknowledges_a_cancel_in_the_file_phase(tmp_path: Path) -> None:
    """Cancel pressed while the files are written: the page says so, shows no rows and offers no file."""
    from analytics.forms import CANCELLED, ReportForm

    settings = load_settings(home=tmp_path)
    query = ReportQuery(name="chunked", title="Numbers", sql="SELECT n")
    said: list[str] = []

    def run(raw, progress, cancelled, run_id):  # type: ignore[no-untyped-def]
        def watching(update: int | str) -> None:
            progress(update)
            said.append(form.status.value)
            if str(update).startswith("Writing the files: "):
                form.cancel_button.click()  # the person presses Cancel on seeing the file phase
        return execute(query, run_context(ChunkedRows(chunks=12, rows=3), settings, run_id=run_id,  # type: ignore[arg-type]
                                          progress=watching, cancelled=cancelled), first_look=form.show_first_look)

    form = ReportForm([], {}, lambda *a: None, run, settings)
    form.run_button.click()
    deadline = time.monotonic() + 20
    while form.run_button.disabled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any("Writing the files: 3 of 36 rows (XLSX)…" in status for status in said)
    assert CANCELLED in form.status.value and form.results.value == ""
    assert files_under(tmp_path) == []


def test_a_file_short_of_the_result_is_refused_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were a writer ever to drop rows again, the run fails plainly and offers no file with wrong totals."""
    import dataclasses

    from analytics.exports import spool

    def short(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = export(*args, **kwargs)
        return dataclasses.replace(result, rows=result.rows - 1)

    export = spool.export
    monkeypatch.setattr(spool, "export", short)
    query = ReportQuery(name="chunked", title="Numbers", sql="SELECT n")
    with pytest.raises(spool.IncompleteFile, match="35 rows instead of 36, so no file was kept"):
        execute(query, run_context(ChunkedRows(chunks=12, rows=3), load_settings(home=tmp_path)))  # type: ignore[arg-type]
    assert files_under(tmp_path) == []
