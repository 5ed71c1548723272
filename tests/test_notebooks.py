"""Every shipped notebook runs headless (papermill) against both backends."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_on_defaults(notebook: Path, db_url: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_DB_URL", db_url)
    output = tmp_path / notebook.name
    papermill.execute_notebook(str(notebook), str(output), cwd=str(notebook.parent), progress_bar=False,
                               kernel_name="python3")
    executed = nbformat.read(output, as_version=4)
    errors = [out for cell in executed.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_notebooks_carry_no_outputs(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    assert all(not cell.get("outputs") for cell in cells if cell.cell_type == "code")
    assert any("parameters" in cell.metadata.get("tags", []) for cell in cells)
