"""Debian's Chromium for browser tests and benchmarks, driven by Playwright (no browser download)."""

from __future__ import annotations

from .clickhouse_server import ensure_debian_package

# Headless, no sandbox (root in CI), and no background connections: this machine's closed network refuses them.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_executable() -> str:
    """Path of Debian's Chromium, installed with apt when missing (needs root)."""
    return ensure_debian_package("chromium", ("/usr/bin/chromium",))
