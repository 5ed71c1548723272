"""Layered fixtures: a real ClickHouse server and an embedded store, both holding the small demo data.

Tests that take ``db`` run once per backend; ``embedded`` and ``server`` pin one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from analytics import Database, connect, load_settings
from analytics.testing import ClickHouseServer
from analytics.testing.clickhouse_server import free_port
from analytics.warehouse import demo

SEED = 42
REPO = Path(__file__).resolve().parents[1]


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


@contextmanager
def running_app(db_url: str, home: Path) -> Iterator[str]:
    """A real `analytics serve` on a free port; yields its base URL (ending in /) once it answers."""
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": db_url, "ANALYTICS_HOME": str(home),
                   "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks")}
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port)], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base, timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)
