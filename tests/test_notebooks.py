"""Every shipped notebook runs headless (papermill, through `analytics run`'s runner) against both backends."""

from __future__ import annotations

import uuid
from pathlib import Path

import nbformat
import pytest

from analytics import connect, load_settings
from analytics.audiences import AudienceRequest, build_audience
from analytics.params import declaration
from analytics.raffle import demo as raffle_demo
from analytics.runner import run_notebook
from analytics.testing.fakes import FakeAmplitude, cohort_csv

from .conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 4


# What a person types before the first run where a notebook has no usable default, and the files it then gives.
TYPED = {"push_audience": {"cohort_id": "demo1", "save": True, "cap_days": 0},  # others saved these people today
         "retargeting_audience": {"cohort_id": "demo1", "save": True, "id_type": "amplitude_id"}}
FILES = {"push_audience": [".csv", ".csv", ".csv", ".xlsx", ".xlsx"],  # target, control (CSV, XLSX); left out (CSV)
         "retargeting_audience": [".csv", ".csv", ".csv", ".txt", ".xlsx"],  # the ad platform's ID list
         "past_audiences": [".csv", ".csv", ".xlsx", ".xlsx"],  # the list, and the recipients of the exact sub_id
         "ab_summary": [".xlsx"],
         "raffle": [".csv", ".csv", ".xlsx", ".xlsx"]}  # winners and participants  # one workbook: summary, per metric, per user


# Every notebook with usable defaults runs under nbval on both backends (test_nbval); here run the ones that
# need typed values or promise other files than an XLSX and a CSV, headless as `analytics run` does.
SPECIAL = [path for path in NOTEBOOKS if path.stem in {*TYPED, *FILES}]


@pytest.mark.parametrize("notebook", SPECIAL, ids=lambda path: path.stem)
def test_notebook_defaults_give_a_result(notebook: Path, embedded_url: str, tmp_path: Path,
                                         amplitude: FakeAmplitude) -> None:
    """A notebook as a person first runs it, on the embedded store: no error, exactly the files it promises."""
    db_url = embedded_url
    with connect(db_url) as db:
        members = db.query_arrow("SELECT amplitude_id FROM users ORDER BY user_id LIMIT 600").column(0).to_numpy()
    amplitude.cohorts["demo1"] = cohort_csv(members)
    settings = load_settings(db_url=db_url, home=tmp_path, **amplitude.overrides())
    parameters = dict(TYPED.get(notebook.stem, {}))
    if notebook.stem == "past_audiences":  # a saved audience to list
        with connect(db_url) as db:
            sub_id = f"push_{uuid.uuid4().hex[:8]}"
            build_audience(db, AudienceRequest("demo1", sub_id, cap_days=0), settings, save=True)
        parameters["sub_id"] = sub_id
    if notebook.stem == "raffle":  # the demo raffle, as `analytics demo-data` sets it up
        with connect(db_url) as db:
            raffle_demo.set_up_raffle(db, settings)
    run = run_notebook(notebook, parameters, settings=settings)
    executed = nbformat.read(run.executed, as_version=4)
    errors = [out for cell in executed.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == []
    assert sorted(path.suffix for path in run.files) == FILES.get(notebook.stem, [".csv", ".xlsx"])
    assert all(path.is_file() and path.parent.parent == tmp_path / "reports" / "exports" for path in run.files)
    assert run.rows  # the defaults give a meaningful result on the demo data


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_are_thin_and_declare_parameters_once(notebook: Path) -> None:
    cells = nbformat.read(notebook, as_version=4).cells
    assert all(not cell.get("outputs") for cell in cells if cell.cell_type == "code")
    parameter_cells = [cell for cell in cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameter_cells) == 1
    assert all(parameter.label and parameter.help for parameter in declaration(notebook))
    code = [cell for cell in cells if cell.cell_type == "code" and cell not in parameter_cells]
    assert len(code) == 1 and len(code[0].source.splitlines()) <= 4
