"""The notebook runner: one exception for every way a run can fail, the executed notebook always kept,
the run id joining the file name and runs.log, and the caller's environment untouched."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from analytics import load_settings
from analytics.runner import NotebookFailed, run_notebook

NOTEBOOKS = Path(__file__).parent / "notebooks"


@pytest.fixture
def settings(tmp_path: Path, embedded_url: str):  # type: ignore[no-untyped-def]
    return load_settings(home=tmp_path, db_url=embedded_url)


def failed_cell(executed: Path) -> tuple[int, dict]:
    notebook = nbformat.read(executed, as_version=4)
    marked = [index for index, cell in enumerate(notebook.cells)
              if cell.get("metadata", {}).get("papermill", {}).get("status") == "failed"]
    assert len(marked) == 1, "exactly one cell is marked as the failing one"
    errors = [output for output in notebook.cells[marked[0]].outputs if output.output_type == "error"]
    return marked[0], errors[-1]


@pytest.mark.parametrize(("notebook", "ename", "evalue", "timeout", "source"), [
    ("raises", "ValueError", "the third cell fails on purpose", 120, "raise ValueError"),
    ("hangs", "CellTimeoutError", "A cell ran longer than the time limit", 3, "time.sleep"),
    ("kills_kernel", "DeadKernelError", "kernel died", 120, "os.kill"),
])
def test_each_failure_is_one_exception_with_its_fields(notebook: str, ename: str, evalue: str, timeout: float, source: str,
                                                       settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotebookFailed) as caught:
        run_notebook(NOTEBOOKS / f"{notebook}.ipynb", settings=settings, timeout=timeout)
    failure = caught.value
    log = (settings.reports_dir / "logs" / "runs.log").read_text()
    assert failure.ename == ename and evalue in failure.evalue, f"{failure.ename}: {failure.evalue}\n{log[-3000:]}"
    assert failure.executed is not None and failure.executed.is_file()  # the record of the run is kept
    index, error = failed_cell(failure.executed)
    assert index == failure.cell_index and error.ename == ename
    assert source in nbformat.read(failure.executed, as_version=4).cells[index].source
    assert failure.run_id in failure.executed.name
    log = (settings.reports_dir / "logs" / "runs.log").read_text()
    assert f"run {failure.run_id}: failed in cell {failure.cell_index}" in log


def test_a_missing_notebook_is_the_same_exception(settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotebookFailed) as caught:
        run_notebook(NOTEBOOKS / "no_such.ipynb", settings=settings)
    assert caught.value.ename == "NotebookMissing" and caught.value.executed is None
    assert "There is no notebook at" in str(caught.value)


def test_a_run_reads_its_files_from_the_executed_notebook_and_leaves_the_environment_alone(
        settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ANALYTICS_DB_URL", "chdb:///somewhere/else")
    before = dict(os.environ)
    run = run_notebook(NOTEBOOKS / "succeeds.ipynb", {"seconds": 7}, settings=settings, user="maria")
    assert dict(os.environ) == before
    assert run.files == [Path("/x/a.csv")] and run.rows == 7
    assert run.run_id in run.executed.name
    outputs = [output for cell in nbformat.read(run.executed, as_version=4).cells for output in cell.get("outputs", [])]
    assert any("maria" in output.get("text", "") for output in outputs)  # --as reaches the kernel
    assert f"run {run.run_id}: finished" in (settings.reports_dir / "logs" / "runs.log").read_text()
