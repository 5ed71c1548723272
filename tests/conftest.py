"""Layered fixtures: a real ClickHouse server and an embedded store, both holding the small demo data.

Tests that take ``db`` run once per backend; ``embedded`` and ``server`` pin one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import Database, connect, load_settings
from analytics.testing import ClickHouseServer
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
