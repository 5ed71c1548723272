"""Time from opening a report's URL to a usable form, in Debian's headless Chromium.

Run: ``.venv/bin/python benchmarks/form_latency.py [--url chdb:///...] [--runs 5]``.
Compares our app (a preheated kernel waits for each report) with plain Voilà start-up
(a kernel started on request), both serving the same notebook and data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from analytics import connect
from analytics.testing.browser import CHROMIUM_ARGS as ARGS
from analytics.testing.browser import chromium_executable
from analytics.testing.clickhouse_server import free_port
from analytics.warehouse import demo

REPORT = "voila/render/account_managers/plastic_cards.ipynb"


def serve(url: str, home: Path, preheat: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": url, "ANALYTICS_HOME": str(home),
                   "ANALYTICS_PREHEAT": "1" if preheat else "0"}
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port)], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            urllib.request.urlopen(base, timeout=2).read()
            break
        except OSError:
            time.sleep(0.2)
    return process, base


def timings(base: str, runs: int, pause: float) -> list[float]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=ARGS)
        found = time_to_form(browser.new_context(), base, runs, pause)
        browser.close()
    return found


def time_to_form(context, base: str, runs: int, pause: float) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds from opening the report's URL to a form whose Run button works, one fresh page per visit."""
    found = []
    for _ in range(runs):
        time.sleep(pause)  # let the app warm the next kernel, as between two real visitors
        page = context.new_page()
        started = time.perf_counter()
        page.goto(base + REPORT)
        page.wait_for_selector(".param-partner_id select", timeout=120_000)
        page.wait_for_selector("button:has-text('Run'):not([disabled])")
        found.append(time.perf_counter() - started)
        page.goto("about:blank")  # closes the visitor's kernel with the page
        page.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: a fresh embedded store with the default demo data)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        url = args.url
        if not url:
            url = f"chdb://{temporary}/store"
            with connect(url) as db:
                demo.load(db, "default", 42)
        rows = []
        for label, preheat in (("ours: preheated kernel", True), ("baseline: kernel started on request", False)):
            process, base = serve(url, Path(temporary), preheat)
            try:
                found = timings(base, args.runs, pause=8.0 if preheat else 1.0)
            finally:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
            rows.append((label, statistics.median(found), max(found)))
    print(f"{'time to a usable form':<38} {'median s':>9} {'worst s':>9}")
    for label, median, worst in rows:
        print(f"{label:<38} {median:>9.2f} {worst:>9.2f}")


if __name__ == "__main__":
    main()
