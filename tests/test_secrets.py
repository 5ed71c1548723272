"""Secrets come from the environment or a .env file, and never land in what the product writes."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.testing.clickhouse_server import DEFAULT_PASSWORD
from analytics.testing.secrets import secret_leaks

from .conftest import REPO


def test_a_dotenv_file_fills_what_the_environment_lacks(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ANALYTICS_SERVE_TOKEN=from-the-file\nANALYTICS_DB_WRITER_URL=clickhouse://w:pw@h/db\n"
                                   "OTHER_TOOL_SECRET=ignored\n")
    settings = load_settings({"ANALYTICS_HOME": str(tmp_path)})
    assert settings.serve_token == "from-the-file" and settings.writer_url == "clickhouse://w:pw@h/db"
    assert settings.secrets == {"ANALYTICS_SERVE_TOKEN": "from-the-file", "ANALYTICS_DB_WRITER_URL": "pw"}
    assert load_settings({"ANALYTICS_HOME": str(tmp_path), "ANALYTICS_SERVE_TOKEN": "env"}).serve_token == "env"


def test_the_scanner_finds_a_secret_inside_an_xlsx_and_a_notebook(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "leak.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", "<c>hunter2-secret</c>")
    (tmp_path / "run.ipynb").write_text('{"outputs": ["hunter2-secret"]}')
    (tmp_path / "clean.csv").write_text("a,b\n")
    leaks = secret_leaks([tmp_path], {"token": "hunter2-secret"})
    assert leaks == [(tmp_path / "leak.xlsx", "token"), (tmp_path / "run.ipynb", "token")]


@pytest.mark.server
def test_a_headless_run_on_the_server_writes_no_password(server_url: str, tmp_path: Path) -> None:
    environment = {**os.environ, "ANALYTICS_HOME": str(tmp_path), "ANALYTICS_DB_URL": server_url}
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "run", str(REPO / "notebooks/account_managers/"
                           "partner_cards.ipynb"), "-p", "partner_id", "3"], env=environment, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert DEFAULT_PASSWORD not in done.stdout + done.stderr
    assert secret_leaks([tmp_path], {"database password": DEFAULT_PASSWORD}) == []
    assert list((tmp_path / "reports" / "runs").glob("*.ipynb")) and list((tmp_path / "reports" / "exports").rglob("*.xlsx"))
