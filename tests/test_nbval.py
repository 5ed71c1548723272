"""Every shipped notebook executes under nbval (the design card's tool), on both backends, and the analyst's
bench (`analytics lab`) opens JupyterLab on the notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from analytics import connect, load_settings
from analytics.params import declaration
from analytics.raffle import demo as raffle_demo
from analytics.testing.clickhouse_server import free_port
from analytics.testing.fakes import FakeAmoCRM

from .conftest import REPO, wait_until


def runs_on_defaults(notebook: Path) -> bool:
    """A notebook whose every parameter has a usable default (an audience needs a cohort ID typed in)."""
    return not any("required" in parameter.kind.args for parameter in declaration(notebook))


def test_every_shipped_notebook_with_defaults_passes_nbval(db_url: str, tmp_path: Path, amocrm: FakeAmoCRM) -> None:
    """Notebooks that need an input (a cohort ID) run headless with one in test_notebooks instead; the CRM loader
    loads a small fake account."""
    amocrm.add_leads(300)
    environment = {**os.environ, "ANALYTICS_DB_URL": db_url, "ANALYTICS_HOME": str(tmp_path), **amocrm.settings()}
    with connect(db_url) as db:
        raffle_demo.set_up_raffle(db, load_settings(home=tmp_path))  # as `analytics demo-data` does
    notebooks = [path for path in sorted((REPO / "notebooks").rglob("*.ipynb")) if runs_on_defaults(path)]
    assert len(notebooks) >= 6
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
                           "-p", "tests.nbval_ipc",
                           "--rootdir", str(REPO / "notebooks"), *map(str, notebooks)],
                          capture_output=True, text=True, env=environment, cwd=REPO, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert f"{2 * len(notebooks)} passed" in done.stdout  # every code cell of every notebook ran
    assert len(list((tmp_path / "reports" / "exports").rglob("*.xlsx"))) >= len(notebooks)  # the raffle writes two


def test_lab_opens_the_notebooks_with_the_database_configured(embedded_url: str, tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_HOME": str(tmp_path), "JUPYTER_TOKEN": "bench-token"}
    output = tmp_path / "lab.log"
    with open(output, "wb") as log:
        lab = subprocess.Popen([sys.executable, "-m", "analytics.cli", "lab", "--port", str(port), "--url", embedded_url,
                                "--no-browser"], env=environment, stdout=log, stderr=log, start_new_session=True)
    try:
        api = f"http://127.0.0.1:{port}/api/contents/account_managers?token=bench-token"
        listing = wait_until(lambda: _get(api), 90, "JupyterLab never answered")
        assert "plastic_cards.ipynb" in listing
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(timeout=30)
    assert "JupyterLab on" in output.read_text()


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""
