"""Layered fixtures: a real ClickHouse server and an embedded store, both holding the small demo data.

Tests that take ``db`` run once per backend; ``embedded`` and ``server`` pin one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from analytics import Database, connect, load_settings
from analytics.testing import ClickHouseServer
from analytics.testing.browser import CHROMIUM_ARGS, chromium_executable
from analytics.testing.clickhouse_server import DEFAULT_PASSWORD, free_port
from analytics.testing.fakes import FakeAmoCRM, FakeAmplitude, FakeSlack
from analytics.testing.secrets import secret_leaks
from analytics.warehouse import demo

# The hostile-input properties: seeded (the same examples every run) and bounded, so CI is repeatable.
settings.register_profile("ci", derandomize=True, max_examples=40, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

SEED = 42

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _umask_kept() -> Iterator[None]:
    """Each test starts with the worker's umask: ``analytics.cli.main`` run in-process sets owner-only files for the
    rest of the process, and a later test in that worker that shares a folder with another account would fail."""
    umask = os.umask(0o022)
    os.umask(umask)
    yield
    os.umask(umask)


@pytest.fixture(scope="session")
def clickhouse_server() -> Iterator[ClickHouseServer]:
    """Debian's clickhouse-server on a free loopback port, installed if missing, stopped at the end."""
    with ClickHouseServer() as server:
        yield server


@pytest.fixture(scope="session")
def server_url(clickhouse_server: ClickHouseServer) -> str:
    with connect(clickhouse_server.url) as db:
        demo.load(db, "small", SEED)
    return clickhouse_server.url


@pytest.fixture(scope="session")
def embedded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"chdb://{tmp_path_factory.mktemp('warehouse')}"
    with connect(url) as db:
        demo.load(db, "small", SEED)
    return url


@pytest.fixture(params=["embedded", "server"])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    with connect(db_url, load_settings(query_timeout_seconds=30)) as database:
        yield database


@pytest.fixture
def embedded(embedded_url: str) -> Iterator[Database]:
    with connect(embedded_url) as database:
        yield database


@pytest.fixture
def server(server_url: str) -> Iterator[Database]:
    with connect(server_url) as database:
        yield database


@pytest.fixture
def scratch_store(tmp_path: Path) -> Iterator[Database]:
    """An empty embedded store of the test's own."""
    with connect(f"chdb://{tmp_path / 'store'}") as database:
        yield database


@pytest.fixture
def amplitude() -> Iterator[FakeAmplitude]:
    """A local Amplitude cohorts API (contracts §1.3); put cohorts in ``amplitude.cohorts[id]``."""
    with FakeAmplitude() as fake:
        yield fake


@pytest.fixture
def amocrm() -> Iterator[FakeAmoCRM]:
    """A local amoCRM account (contracts §3): pages, 204 at the end, OAuth refresh; ``fail()`` makes trouble."""
    with FakeAmoCRM() as fake:
        yield fake


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    """A local Slack (contracts §2): webhook and Web API; ``fail()``, ``down()`` and ``up()`` make trouble."""
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):  # slack_sdk ignores NO_PROXY
        monkeypatch.delenv(proxy, raising=False)
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (installed from Debian when missing)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh Chromium page (its own cookies) that accepts downloads."""
    context = browser.new_context(accept_downloads=True)
    yield context.new_page()
    context.close()


@dataclass
class Served:
    base: str  # ends in /
    process: subprocess.Popen
    port: int


def report_folders(root: Path, *folders: str) -> Path:
    """A notebooks folder holding only these groups' reports (``"analysts"``), or single reports of a group
    (``"analysts/export_builder.ipynb"``, with the group's access file): an app preheats a kernel per
    report, and a test about some pages need not wait for every report's kernel to start."""
    for folder in folders:
        source = REPO / "notebooks" / folder
        if source.suffix == ".ipynb":
            (root / "notebooks" / source.parent.name).mkdir(parents=True, exist_ok=True)
            for path in (source, source.parent / "access.json"):
                shutil.copy(path, root / "notebooks" / source.parent.name / path.name)
        else:
            shutil.copytree(source, root / "notebooks" / folder)
    return root / "notebooks"


@contextmanager
def serving(db_url: str, home: Path, *, ip: str = "127.0.0.1", **environment: str) -> Iterator[Served]:
    """A real `analytics serve` on a free port, yielded once its start page answers (else the test fails).

    One warm kernel for all its reports unless the test says otherwise: the pools follow visits, and a test's
    quick repeated visits grew them to kernels nobody took (a kernel start is seconds of a core the suite lacks).
    """
    port = free_port()
    env = {**os.environ, "ANALYTICS_DB_URL": db_url, "ANALYTICS_HOME": str(home),
           "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks"), "ANALYTICS_WARM_KERNELS": "1", **environment}
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port), "--ip", ip], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: _answers(base), 90, "the app never answered")
        yield Served(base, process, port)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            process.wait(timeout=30)


@contextmanager
def running_app(db_url: str, home: Path, **environment: str) -> Iterator[str]:
    with serving(db_url, home, **environment) as served:
        yield served.base


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except OSError:
        return False


def wait_until(condition, seconds: float, failure: str, every: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it returns something truthy; fail the test with ``failure`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(every)


def suite_secrets() -> dict[str, str]:
    """The secret values the suite configures: the server's password, the shared token, users' passwords,
    the (fake) Amplitude secret key the audience runs carry in their environment."""
    from analytics.testing.fakes.amplitude import SECRET_KEY  # noqa: PLC0415

    from .test_sharing import PASSWORDS, TOKEN  # noqa: PLC0415

    return {"database password": DEFAULT_PASSWORD, "ANALYTICS_SERVE_TOKEN": TOKEN,
            "ANALYTICS_AMPLITUDE_SECRET_KEY": SECRET_KEY,
            **{f"password of {name}": password for name, password in PASSWORDS.items()}}


# The files that take longest, longest first (measured: their tests' seconds together). Workers take files in
# collection order only with `--no-loadscope-reorder` (the Makefile passes it): by default pytest-xdist hands out the
# files with the most tests first, which put these few-test, long files (the app's lifecycle, nbval, the backtests)
# at the end, a tail of minutes with one worker busy. Started first, the short files fill the gaps.
SLOW_FIRST = ("test_app_lifecycle.py", "test_nbval.py", "test_writes.py", "test_browser_pages.py", "test_browser.py",
              "test_probes_pages.py", "test_monitoring_backtest.py", "test_probes_durability.py",
              "test_monitoring_jobs.py", "test_ab_summary.py", "test_clickhouse_cluster.py", "test_browser_upload.py",
              "test_warm_pools.py", "test_audiences.py", "test_browser_home.py", "test_run_flow.py",
              "test_probes_web.py", "test_scheduler.py", "test_delivery.py", "test_queue_app.py", "test_cli_run.py",
              "test_notebooks.py", "test_browser_audiences.py", "test_screenshots.py", "test_cli_and_demo.py",
              "test_sharing.py", "test_browser_delivery.py", "test_raffle.py", "test_browser_sign_in.py",
              "test_upload.py", "test_browser_ab.py", "test_crm_load_report.py", "test_crm_loader.py")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: each file's tests keep their order


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every test: no executed notebook, export or log the suite wrote holds a configured secret."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or session.config.option.collectonly:
        return
    leaks = secret_leaks([factory.getbasetemp(), REPO / "reports"], suite_secrets())
    if leaks:
        lines = "\n".join(f"  {path}: {name}" for path, name in leaks)
        session.config.get_terminal_writer().line(f"Secret values found in files the suite wrote:\n{lines}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
