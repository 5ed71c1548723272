"""`analytics serve` starts Voilà, lists the reports and renders one against the demo data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from analytics.testing.clickhouse_server import free_port

from .conftest import REPO


@pytest.fixture
def app(embedded_url: str) -> Iterator[str]:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": embedded_url, "ANALYTICS_HOME": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port)], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/", timeout=2).read()
            break
        except OSError:
            time.sleep(0.2)
    yield base
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=120) as response:
        return response.read().decode()


def test_app_lists_and_renders_a_report(app: str) -> None:
    listing = json.loads(get(app + "/voila/api/contents/account_managers"))
    assert "partner_cards.ipynb" in [item["name"] for item in listing["content"]]
    page = get(app + "/voila/render/account_managers/partner_cards.ipynb")
    assert "cards added to the app from" in page
    assert "Traceback" not in page
