"""`analytics run`: same validation as the form, non-zero exit on failure, paths printed one per line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl

from analytics import Database

from .conftest import REPO

PLASTIC = REPO / "notebooks" / "account_managers" / "plastic_cards.ipynb"


def analytics_run(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ANALYTICS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "analytics.cli", "run", str(PLASTIC), "--url", url, *args],
                          capture_output=True, text=True, env=environment, timeout=300, check=False)


def test_run_prints_notebook_and_files(tmp_path: Path, db_url: str, db: Database) -> None:
    done = analytics_run(tmp_path, db_url, "-p", "partner_id", "3", "-p", "start", "2026-09-01", "-p", "end", "2026-10-31")
    assert done.returncode == 0, done.stderr
    executed, *files = [Path(line) for line in done.stdout.splitlines()]
    assert executed.suffix == ".ipynb" and executed.is_file()
    assert sorted(path.suffix for path in files) == [".csv", ".xlsx"] and all(path.is_file() for path in files)
    xlsx = next(path for path in files if path.suffix == ".xlsx")
    rows = list(openpyxl.load_workbook(xlsx).active.iter_rows(min_row=2, values_only=True))
    expected = db.query("SELECT card_number FROM cards WHERE partner_id = 3 AND origin = 'plastic' "
                        "AND issued_at >= '2026-09-01 00:00:00' AND issued_at < '2026-11-01 00:00:00' "
                        "ORDER BY issued_at, card_id")
    assert [row[0] for row in rows] == expected.card_number.tolist() and rows


def test_invalid_values_fail_with_a_plain_message_and_query_nothing(tmp_path: Path, embedded_url: str) -> None:
    done = analytics_run(tmp_path, embedded_url, "-p", "start", "2026-10-31", "-p", "end", "2026-10-01")
    assert done.returncode == 1
    assert "end: must be on or after the first day (31.10.2026)" in done.stderr
    assert not (tmp_path / "reports" / "exports").exists() or not list((tmp_path / "reports" / "exports").iterdir())


def test_unknown_partner_is_refused(tmp_path: Path, embedded_url: str) -> None:
    done = analytics_run(tmp_path, embedded_url, "-p", "partner_id", "99999")
    assert done.returncode == 1
    assert done.stderr == "Error: Some values were not accepted: partner_id: there is no partner 99999 in the list.\n"
    assert Path(done.stdout.strip()).is_file()  # the executed notebook is kept


def test_an_unknown_parameter_name_is_refused_before_anything_runs(tmp_path: Path, embedded_url: str) -> None:
    done = analytics_run(tmp_path, embedded_url, "-p", "partner", "3")
    assert done.returncode == 1 and done.stdout == ""
    assert "'partner' is not a parameter of this report" in done.stderr or "partner: is not a parameter" in done.stderr
    assert "csv_delimiter, end, partner_id, start" in done.stderr
    assert not (tmp_path / "reports" / "runs").exists()


def test_a_name_that_is_not_an_identifier_never_reaches_papermill(tmp_path: Path, embedded_url: str) -> None:
    done = analytics_run(tmp_path, embedded_url, "-p", "x=1\nimport os;os.system('touch /tmp/pwned')#", "1")
    assert done.returncode == 1 and "is not a valid parameter name" in done.stderr
    assert not (tmp_path / "reports" / "runs").exists()
