"""Plain messages for an unreachable server and a wrong password (real sockets, real server)."""

from __future__ import annotations

import pytest

from analytics import connect
from analytics.errors import AuthenticationError, ConfigError, ServerUnreachableError
from analytics.testing import ClickHouseServer
from analytics.testing.clickhouse_server import free_port


def test_server_down_names_host_and_port() -> None:
    port = free_port()
    with pytest.raises(ServerUnreachableError, match=rf"127\.0\.0\.1:{port} cannot be reached"):
        with connect(f"clickhouse://u:p@127.0.0.1:{port}/default?connect_timeout=2") as db:
            db.query("SELECT 1")


def test_every_failover_host_is_named() -> None:
    first, second = free_port(), free_port()
    url = f"clickhouse://u:p@127.0.0.1:{first}/default?alt_hosts=127.0.0.1:{second}&connect_timeout=2"
    with pytest.raises(ServerUnreachableError) as caught, connect(url) as db:
        db.query("SELECT 1")
    assert f"127.0.0.1:{first}" in str(caught.value) and f"127.0.0.1:{second}" in str(caught.value)


def test_failover_reaches_the_live_host(clickhouse_server: ClickHouseServer) -> None:
    dead = free_port()
    s = clickhouse_server
    url = (f"clickhouse://{s.user}:{s.password}@127.0.0.1:{dead}/default"
           f"?alt_hosts=127.0.0.1:{s.tcp_port}&connect_timeout=2")
    with connect(url) as db:
        assert db.scalar("SELECT 1") == 1


def test_wrong_password(clickhouse_server: ClickHouseServer) -> None:
    url = clickhouse_server.url.replace(clickhouse_server.password, "wrong")
    with pytest.raises(AuthenticationError, match="wrong user name or password"), connect(url) as db:
        db.query("SELECT 1")


@pytest.mark.parametrize("url", ["mysql://x", "chdb://relative/path", "clickhouse://host/db?bogus=1"])
def test_bad_urls_are_explained(url: str) -> None:
    with pytest.raises(ConfigError):
        connect(url)
