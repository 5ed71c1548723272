"""Time from opening a report's URL to a usable form, for ten visitors of one report within a minute, in
Debian's headless Chromium.

Run: ``.venv/bin/python benchmarks/form_latency.py [--url chdb:///...] [--rounds 2] [--visitors 10] [--gap 6]``.

Each round, `--visitors` people open the same report `--gap` seconds apart (each in a fresh page, which closes
once its form works); we print the 1st, 2nd, 3rd and last visitor's time, and p50 and p95 over all visits.
Our app (warm kernels sized by visits) against plain Voilà start-up (``ANALYTICS_PREHEAT=0``: a kernel started on
request), both serving the same notebook and data in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.async_api import async_playwright

from analytics import connect
from analytics.testing.browser import CHROMIUM_ARGS as ARGS
from analytics.testing.browser import chromium_executable
from analytics.testing.clickhouse_server import free_port
from analytics.warehouse import demo

REPORT = "voila/render/account_managers/plastic_cards.ipynb"


def serve(url: str, home: Path, preheat: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": url, "ANALYTICS_HOME": str(home),
                   "ANALYTICS_PREHEAT": "1" if preheat else "0", "ANALYTICS_MAX_VISITOR_KERNELS": "30"}
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


async def visit(browser, base: str, delay: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds from opening the report's URL to a form whose Run button works; the page closes after."""
    await asyncio.sleep(delay)
    page = await browser.new_page()
    started = time.perf_counter()
    await page.goto(base + REPORT, timeout=180_000)
    await page.wait_for_selector(".param-partner_id select", timeout=180_000)
    await page.wait_for_selector("button:has-text('Run'):not([disabled])", timeout=180_000)
    took = time.perf_counter() - started
    await page.goto("about:blank")  # the page's shutdown request ends the visitor's kernel
    await page.close()
    return took


async def round_of_visits(base: str, visitors: int, gap: float) -> list[float]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable(), args=ARGS)
        found = await asyncio.gather(*(visit(browser, base, number * gap) for number in range(visitors)))
        await browser.close()
    return list(found)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: a fresh embedded store with the default demo data)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--gap", type=float, default=6.0, help="seconds between two visitors")
    parser.add_argument("--settle", type=float, default=40.0, help="seconds for the app to warm up before a round")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        url = args.url
        if not url:
            url = f"chdb://{temporary}/store"
            with connect(url) as db:
                demo.load(db, "default", 42)
        for label, preheat in (("ours: warm kernels sized by visits", True),
                               ("baseline: plain Voilà, kernel on request", False)):
            process, base = serve(url, Path(temporary), preheat)
            try:
                rounds = []
                for _ in range(args.rounds):
                    time.sleep(args.settle)  # the warm kernels start; the last round's visitors' kernels end
                    rounds.append(asyncio.run(round_of_visits(base, args.visitors, args.gap)))
            finally:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
            by_rank = list(zip(*rounds, strict=True))
            every = [seconds for found in rounds for seconds in found]
            rows.append([label, *(f"{statistics.median(by_rank[rank]):.1f}" for rank in (0, 1, 2, -1)),
                         f"{percentile(every, 0.5):.1f}", f"{percentile(every, 0.95):.1f}",
                         f"{sum(seconds < 3 for seconds in every)}/{len(every)}"])
    print(f"{args.visitors} visitors of one report, {args.gap:g} s apart, {args.rounds} round(s); seconds to a usable form")
    header = ["", "1st", "2nd", "3rd", f"{args.visitors}th", "p50", "p95", "under 3 s"]
    widths = [max(len(str(row[column])) for row in [header, *rows]) for column in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(f"{cell:<{widths[0]}}" if column == 0 else f"{cell:>{widths[column]}}"
                        for column, cell in enumerate(row)))


if __name__ == "__main__":
    main()
