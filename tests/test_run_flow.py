"""One run context, plan then commit: what a report may reach, Cancel before and after a save, failures audited
under the run's own id, and the runner's imports kept light."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from analytics import Database, connect, load_settings
from analytics.audiences.store import saved
from analytics.context import Job, RunCancelled, RunDescription
from analytics.errors import ServiceError
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.reports import push_audience
from analytics.results import WritePlan
from analytics.testing.fakes.amplitude import FakeAmplitude, cohort_csv
from analytics.testing.runs import run_context

from .conftest import REPO

PUSH_NOTEBOOK = REPO / "notebooks" / "marketing" / "push_audience.ipynb"
REPORTS = REPO / "lib" / "analytics" / "reports"
SIDEWAYS = {"load_settings", "current_user", "current_client", "connect", "in_voila"}


@pytest.fixture
def settings(db_url: str, tmp_path: Path, amplitude: FakeAmplitude):  # type: ignore[no-untyped-def]
    return load_settings(db_url=db_url, home=tmp_path, **amplitude.overrides())


def audit_rows(settings, run_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with connect(settings.writer_url, settings=settings) as db:
        return db.query_arrow("SELECT action, report, parameters FROM audit_log WHERE run_id = %(r)s ORDER BY at",
                              {"r": run_id}).to_pylist()


def cohort(db: Database, amplitude: FakeAmplitude, name: str, people: int = 80) -> str:
    ids = db.query_arrow("SELECT amplitude_id FROM users ORDER BY user_id LIMIT %(n)s", {"n": people})
    amplitude.cohorts[name] = cohort_csv(ids.column("amplitude_id").to_numpy().astype(np.uint64))
    return name


def test_no_report_reaches_sideways_for_settings_the_user_a_connection_or_the_environment() -> None:
    found = []
    for path in sorted(REPORTS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = node.func.id if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) else None
            if name in SIDEWAYS:
                found.append(f"{path.name}:{node.lineno} calls {name}()")
            if isinstance(node, ast.Attribute) and node.attr == "environ":
                found.append(f"{path.name}:{node.lineno} reads the environment")
    assert found == []


def test_a_save_is_a_plan_first_and_nothing_is_written_until_its_commit(db: Database, settings,  # type: ignore[no-untyped-def]
                                                                        amplitude: FakeAmplitude) -> None:
    sub_id = f"plan_{uuid.uuid4().hex[:8]}"
    plan = push_audience(run_context(db, settings), cohort(db, amplitude, "plan1"), sub_id, cap_days=0, save=True)
    assert isinstance(plan, WritePlan) and sub_id in plan.what and plan.rows > 0
    assert saved(db, sub_id) is None  # planned, not written


def test_cancel_before_the_commit_saves_nothing_and_says_so(db: Database, settings,  # type: ignore[no-untyped-def]
                                                            amplitude: FakeAmplitude) -> None:
    sub_id, cancelled = f"cancel_{uuid.uuid4().hex[:8]}", threading.Event()

    def status(text: str) -> None:
        if "Cleaning" in text:  # Cancel pressed while the audience is computed
            cancelled.set()

    ctx = run_context(db, settings, cancelled=cancelled, status=status)
    with pytest.raises(RunCancelled, match="nothing was saved and no file was written"):
        run_report(push_audience, declaration(PUSH_NOTEBOOK),
                   {"cohort_id": cohort(db, amplitude, "cancel1"), "sub_id": sub_id, "cap_days": 0, "save": True}, ctx)
    assert saved(db, sub_id) is None
    assert [row["action"] for row in audit_rows(settings, ctx.run_id)] == ["run_failed"]


def test_cancel_after_the_commit_says_what_was_saved(db: Database, settings,  # type: ignore[no-untyped-def]
                                                     amplitude: FakeAmplitude) -> None:
    sub_id, cancelled = f"late_{uuid.uuid4().hex[:8]}", threading.Event()

    def progress(rows: int) -> None:  # the first rows of the files are being read: too late to undo the save
        cancelled.set()

    ctx = run_context(db, settings, cancelled=cancelled, progress=progress)
    with pytest.raises(RunCancelled) as stopped:
        run_report(push_audience, declaration(PUSH_NOTEBOOK),
                   {"cohort_id": cohort(db, amplitude, "late1"), "sub_id": sub_id, "cap_days": 0, "save": True}, ctx)
    assert str(stopped.value).startswith(f"Cancelled. Saved: audience {sub_id} version 1 (")
    assert str(stopped.value).endswith("No file was written; run it again to get the files.")
    assert saved(db, sub_id) is not None
    assert not [path for path in (settings.reports_dir / "exports").rglob("*") if path.is_file()]


def test_cancel_ends_a_wait_for_amplitude_at_once(db: Database, settings,  # type: ignore[no-untyped-def]
                                                  amplitude: FakeAmplitude) -> None:
    amplitude.never_ready = True  # Amplitude would keep "preparing" for the whole 300 s wait
    cancelled = threading.Event()
    slow = load_settings(db_url=settings.db_url, home=settings.home,
                         **{**amplitude.overrides(), "amplitude_wait_seconds": 300, "amplitude_poll_seconds": 60})
    threading.Timer(0.5, cancelled.set).start()
    with pytest.raises(RunCancelled):  # without Cancel this would end in 300 s with "has not finished preparing"
        push_audience(run_context(db, slow, cancelled=cancelled), cohort(db, amplitude, "wait1"), cap_days=0)


def test_a_failure_inside_the_report_is_audited_under_the_run_id_the_person_sees(db: Database, settings,  # type: ignore[no-untyped-def]
                                                                                  amplitude: FakeAmplitude) -> None:
    amplitude.fail_status = 503
    ctx = run_context(db, settings)
    with pytest.raises(ServiceError):
        run_report(push_audience, declaration(PUSH_NOTEBOOK), {"cohort_id": "down1", "cap_days": 0}, ctx)
    rows = audit_rows(settings, ctx.run_id)
    assert [row["action"] for row in rows] == ["run_failed"] and rows[0]["report"] == "push_audience"
    assert "Amplitude" in rows[0]["parameters"]


def test_a_scheduled_run_is_described_once_for_its_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    described = RunDescription("r1", "scheduler:events", Job("events_monitoring", "http://app/runs/x/r1.html", "file"))
    monkeypatch.setenv(*next(iter(described.to_env().items())))
    assert RunDescription.from_env() == described


def test_the_runner_does_not_load_every_report_or_the_statistics() -> None:
    loaded = subprocess.run([sys.executable, "-c", "import sys, analytics.runner; print(sorted(m for m in sys.modules "
                             "if m.split('.')[0] in ('scipy', 'statsmodels') or m.startswith('analytics.reports')))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_app_imports_no_test_code() -> None:
    loaded = subprocess.run([sys.executable, "-c", "import sys, analytics.web.app; print(sorted(m for m in sys.modules "
                             "if m.startswith('analytics.testing')))"], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_report_page_loads_no_library_it_does_not_use_yet() -> None:
    """What every visitor kernel imports to show a form: not the Slack client (only a send needs it), not scipy
    or statsmodels (only the A/B summary), not chDB before a query on the embedded store, not the server
    driver's client (the embedded store only borrows its escaping), not Parquet (only the embedded store's
    writes). Each is memory that every open page would hold (benchmarks/app_memory.py)."""
    probe = ("import sys; from analytics.page import report_page; from analytics.reports import plastic_cards; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'slack_sdk', 'scipy', 'statsmodels', 'chdb', "
             "'clickhouse_driver'} | {m for m in sys.modules if m.startswith('pyarrow.parquet')}))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
