"""Helpers for tests and benchmarks that need real parts (a ClickHouse server on loopback)."""

from .clickhouse_server import ClickHouseServer, ensure_clickhouse_installed, ensure_debian_package

__all__ = ["ClickHouseServer", "ensure_clickhouse_installed", "ensure_debian_package"]
