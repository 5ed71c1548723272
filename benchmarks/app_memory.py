"""Memory of the app: idle, per warm kernel, and per visitor kernel after a run, on both backends.

For each backend (the embedded store, and a ClickHouse 18.16 server started here) with the default demo
warehouse, the app starts with the shipped reports; three visitors open the plastic cards report in Chromium
and press Run; we read each visitor kernel's RSS, USS (memory no other process shares: what ending it frees)
and PSS (its fair share of what it shares with the other kernels: the figure that adds up). From the median
visitor's PSS follows how many visitors 24 GB serves at once next to the idle app.

``--before-lib PATH`` (an older checkout's ``lib``, e.g. from ``git archive``) runs the same app code from
there first: the baseline in the same run.

Run: ``.venv/bin/python benchmarks/app_memory.py [--skip-server] [--before-lib PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from analytics import connect
from analytics.testing import ClickHouseServer
from analytics.testing.browser import CHROMIUM_ARGS, chromium_executable
from analytics.testing.clickhouse_server import free_port
from analytics.warehouse import demo

REPO = Path(__file__).resolve().parents[1]
MB = 2**20
MACHINE_MB = 24 * 1024
REPORT = "account_managers/plastic_cards.ipynb"
VISITORS = 3


def start_app(url: str, home: Path, lib: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": url, "ANALYTICS_HOME": str(home), "PYTHONPATH": str(lib),
                   "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks")}
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port)], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base, timeout=2).read()
            return process, base
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the app did not start")


def kernels(app: psutil.Process) -> dict[str, psutil.Process]:
    """The app's kernels by kernel id (from the connection file in each one's command line)."""
    found = {}
    for child in app.children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:  # ended (or a zombie) since it was listed: not a kernel we measure
            continue
        named = re.search(r"kernel-([0-9a-f-]{36})\.json", command)
        if named:
            found[named.group(1)] = child
    return found


def settle(app: psutil.Process) -> None:
    """Wait until the warm kernels are up and their memory stops growing."""
    deadline, last = time.monotonic() + 240, -1
    while time.monotonic() < deadline:
        total = sum(kernel.memory_info().rss for kernel in kernels(app).values())
        if kernels(app) and abs(total - last) < 2 * MB:
            return
        last = total
        time.sleep(5)


def memory(processes: list[psutil.Process]) -> dict[str, float]:
    """RSS, USS and PSS in MB, summed."""
    infos = [process.memory_full_info() for process in processes]
    return {kind: sum(getattr(info, kind) for info in infos) / MB for kind in ("rss", "uss", "pss")}


def shown(figures: dict[str, float]) -> str:
    return f"RSS {figures['rss']:,.0f} / USS {figures['uss']:,.0f} / PSS {figures['pss']:,.0f} MB"


def measure(label: str, url: str, lib: Path, browser: object) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as home:
        process, base = start_app(url, Path(home), lib)
        try:
            app = psutil.Process(process.pid)
            settle(app)
            warm = list(kernels(app).values())
            idle = memory([app, *app.children(recursive=True)])
            pages, visitors = [], []
            for _ in range(VISITORS):
                page = browser.new_page()  # type: ignore[attr-defined]
                page.goto(base + "voila/render/" + REPORT, timeout=120_000)
                page.wait_for_selector("button:has-text('Run'):not([disabled])", timeout=120_000)
                page.click("button:has-text('Run')")
                page.wait_for_selector(".run-result", timeout=300_000)
                visitors.append(json.loads(page.inner_text("#jupyter-config-data"))["kernelId"])
                pages.append(page)
            time.sleep(3)
            running = kernels(app)
            each = [memory([running[kernel]]) for kernel in visitors]
            median = {kind: statistics.median(figures[kind] for figures in each) for kind in ("rss", "uss", "pss")}
            fits = int((MACHINE_MB - idle["pss"]) // median["pss"])
            for page in pages:
                page.close()
            return [(f"{label}: idle app ({len(warm)} warm kernels)", shown(idle)),
                    (f"{label}: one warm kernel", shown(memory(warm[:1]))),
                    (f"{label}: visitor kernel after a run (median of {VISITORS})", shown(median)),
                    (f"{label}: visitors at once on 24 GB (by PSS, next to the idle app)", f"{fits:,}")]
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--before-lib", type=Path, help="an older checkout's lib, measured first as the baseline")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only when measuring

    libs = ([("before", args.before_lib.resolve())] if args.before_lib else []) + [("now", REPO / "lib")]
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        embedded = f"chdb://{folder}/store"
        with connect(embedded) as db:
            demo.load(db, "default", 42)
        for when, lib in libs:
            rows += measure(f"{when}, embedded", embedded, lib, browser)
        if not args.skip_server:
            with ClickHouseServer() as server:
                with connect(server.url) as db:
                    demo.load(db, "default", 42)
                for when, lib in libs:
                    rows += measure(f"{when}, server", server.url, lib, browser)
        browser.close()
    width = max(len(what) for what, _ in rows)
    for what, figure in rows:
        print(f"{what:<{width}}  {figure}")


if __name__ == "__main__":
    main()
