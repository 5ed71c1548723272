"""Every shipped notebook runs headless (papermill, through `analytics run`'s runner) against both backends."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from analytics import load_settings
from analytics.params import declaration
from analytics.runner import run_notebook

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_defaults_give_a_result(notebook: Path, db_url: str, tmp_path: Path) -> None:
    run = run_notebook(notebook, settings=load_settings(db_url=db_url, home=tmp_path))
    executed = nbformat.read(run.executed, as_version=4)
    errors = [out for cell in executed.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == []
    assert sorted(path.suffix for path in run.files) == [".csv", ".xlsx"]
    assert all(path.is_file() and path.parent.parent == tmp_path / "reports" / "exports" for path in run.files)
    text = "".join(str(out.get("data", {}).get("text/html", "")) for cell in executed.cells for out in cell.get("outputs", []))
    assert ": 0 rows" not in text  # the defaults give a meaningful result on the demo data


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_are_thin_and_declare_parameters_once(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    assert all(not cell.get("outputs") for cell in cells if cell.cell_type == "code")
    parameter_cells = [cell for cell in cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameter_cells) == 1
    assert all(parameter.label and parameter.help for parameter in declaration(notebook))
    code = [cell for cell in cells if cell.cell_type == "code" and cell not in parameter_cells]
    assert len(code) == 1 and len(code[0].source.splitlines()) <= 4
