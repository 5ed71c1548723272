"""The analysts' safety net and the setup's words: notebook outputs never reach a commit, the reports open
trusted (no "not trusted" warning per report), and the package install says what it is doing."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from analytics import install_packages
from analytics.notebook_trust import report_notebooks, sign_notebooks

REPO = Path(__file__).resolve().parents[1]
CARD = "38299183008722779"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout


def notebook_with_outputs() -> nbformat.NotebookNode:
    """A report notebook as an analyst leaves it after a run: a parameters cell, a card number in an output."""
    parameters = nbformat.v4.new_code_cell("partner_id = 3", metadata={"tags": ["parameters"]}, id="parameters-cell")
    result = nbformat.v4.new_code_cell("cards.head()", id="result-cell", execution_count=7, outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": f"card_number\n0  {CARD}"}, execution_count=7),
        nbformat.v4.new_output("stream", name="stdout", text=f"first card {CARD}\n")])
    notebook = nbformat.v4.new_notebook(cells=[parameters, result])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_make_installs_a_git_filter_that_strips_notebook_outputs_before_a_commit(tmp_path: Path) -> None:
    """In a fresh clone, ``make git-filter`` (part of ``make setup`` and ``make lab``) makes ``git add`` stage the
    notebook without outputs, keeping the parameters tag, cell ids and kernel; the file on disk keeps its outputs."""
    clone = tmp_path / "clone"
    clone.mkdir()
    git(clone, "init", "-q")
    for name in ("Makefile", ".gitattributes"):
        shutil.copy(REPO / name, clone / name)
    made = subprocess.run(["make", "-s", "git-filter", f"NBSTRIPOUT_PYTHON={sys.executable}"], cwd=clone,
                          capture_output=True, text=True, check=True)
    assert "Notebook outputs: stripped before every commit" in made.stdout
    path = clone / "notebooks" / "account_managers" / "leak.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(notebook_with_outputs(), path)
    git(clone, "add", "-A")
    staged = git(clone, "show", ":notebooks/account_managers/leak.ipynb")
    assert CARD not in staged
    cells = json.loads(staged)["cells"]
    assert [cell.get("outputs") for cell in cells] == [[], []]
    assert [cell.get("execution_count") for cell in cells] == [None, None]
    assert cells[0]["metadata"]["tags"] == ["parameters"]
    assert [cell["id"] for cell in cells] == ["parameters-cell", "result-cell"]
    assert json.loads(staged)["metadata"]["kernelspec"]["name"] == "python3"
    assert CARD in path.read_text(encoding="utf-8")  # the analyst's own copy is untouched
    assert git(clone, "diff", "--cached", "--stat") .count("leak.ipynb") == 1


def test_the_shipped_notebooks_pass_the_filter_unchanged() -> None:
    """A checkout with the filter shows no notebook as modified: each shipped notebook is already as stripped."""
    from nbstripout import strip_output

    changed = []
    for path in report_notebooks(REPO / "notebooks"):
        shipped = nbformat.read(path, as_version=4)
        stripped = strip_output(nbformat.read(path, as_version=4), keep_output=False, keep_count=False, keep_id=True)
        if stripped != shipped:
            changed.append(path.name)
    assert changed == []


def test_signed_report_notebooks_open_without_the_not_trusted_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Jupyter's own contents manager (what Voilà and JupyterLab open notebooks with) warned once per report
    until ``sign_notebooks``, which ``analytics serve`` and ``analytics lab`` call at start."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))  # a signature store of this test's own
    folder = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", folder)
    names = [str(path.relative_to(folder)) for path in report_notebooks(folder)]

    def warnings_on_open() -> list[str]:
        caplog.clear()
        manager = FileContentsManager(root_dir=str(folder))
        manager.log.propagate = True
        with caplog.at_level(logging.WARNING):
            for name in names:
                manager.get(name)
        return [record.getMessage() for record in caplog.records if "not trusted" in record.getMessage()]

    assert len(warnings_on_open()) == len(names) > 10
    assert sign_notebooks(folder) == len(names)
    assert warnings_on_open() == []
    assert sign_notebooks(folder) == 0  # already signed: nothing to do at the next start


def tiny_wheel(folder: Path) -> Path:
    """A one-module wheel, so pip runs for real without an index or a build backend."""
    wheel = folder / "tiny_pkg-1.0-py3-none-any.whl"
    files = {"tiny_pkg/__init__.py": "",
             "tiny_pkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tiny-pkg\nVersion: 1.0\n",
             "tiny_pkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files["tiny_pkg-1.0.dist-info/RECORD"] = "".join(f"{name},,\n" for name in [*files, "tiny_pkg-1.0.dist-info/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def test_the_install_shows_one_line_per_package_and_keeps_pips_output_in_a_log(tmp_path: Path) -> None:
    """A real pip run (a local wheel, no index): one short line per package, the total, and pip's log."""
    out = io.StringIO()
    tiny_wheel(tmp_path)
    status = install_packages.install(["--no-index", "--find-links", str(tmp_path), "--target", str(tmp_path / "target"),
                                   "tiny-pkg"], tmp_path / "pip.log", out)
    lines = out.getvalue().splitlines()
    assert status == 0, out.getvalue()
    assert lines[0].split() == ["1", "tiny_pkg"], lines
    assert lines[-1].startswith("Packages: 1 installed") and "pip.log" in lines[-1]
    assert "Successfully installed tiny-pkg" in (tmp_path / "pip.log").read_text()
    assert (tmp_path / "target" / "tiny_pkg" / "__init__.py").is_file()
    pip_says = ["Collecting pandas==3.1.1", "  Using cached pandas.whl", "Collecting numpy>=1.26 (from pandas==3.1.1)",
                "Processing /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl (from analytics==0.1.0)",
                "Requirement already satisfied: six in ./.venv"]
    assert list(install_packages.package_names(pip_says)) == ["pandas==3.1.1", "numpy>=1.26", "torch"]


def test_uv_installs_with_its_output_in_a_log_and_the_total_on_the_screen(tmp_path: Path) -> None:
    """The fast path of ``make setup`` (uv, fetched by pip when missing) on a local wheel, no index."""
    out = io.StringIO()
    tiny_wheel(tmp_path)
    status = install_packages.install_with_uv(["--no-index", "--find-links", str(tmp_path), "--target",
                                               str(tmp_path / "target"), "tiny-pkg"], tmp_path / "uv.log", out)
    assert status == 0, out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("Packages: 1 installed") and "uv.log" in out.getvalue()
    assert "+ tiny-pkg==1.0" in (tmp_path / "uv.log").read_text()
    assert (tmp_path / "target" / "tiny_pkg" / "__init__.py").is_file()
    assert install_packages.install_with_uv(["--no-index", "no-such-package-here"], tmp_path / "uv.log", out) != 0
    assert "Installing packages failed (uv exit status" in out.getvalue() and "no-such-package-here" in out.getvalue()


def test_a_failed_install_shows_pips_error_and_where_the_log_is(tmp_path: Path) -> None:
    out = io.StringIO()
    assert install_packages.install(["--no-index", "no-such-package-here"], tmp_path / "pip.log", out) != 0
    assert "Installing packages failed" in out.getvalue() and str(tmp_path / "pip.log") in out.getvalue()
    assert "no-such-package-here" in out.getvalue()  # pip's own words about what is wrong


def test_demo_data_if_missing_says_one_line(embedded_url: str, embedded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What ``make run`` prints for the demo step when the data is there: one line with the size, no per-table lines."""
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "demo-data", "--if-missing", "--url", embedded_url],
                          env=env, capture_output=True, text=True, timeout=300, check=True)
    events = embedded.scalar("SELECT count() FROM events")
    assert done.stderr.splitlines() == [f"Demo data: ready ({events:,} events)"]
