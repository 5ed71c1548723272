"""Memory of the app: idle with the shipped reports, and per visitor kernel after a 1M-row export.

For each backend (the embedded store, and a ClickHouse 18.16 server started here) with the default
demo warehouse: the idle app as shipped (a warm kernel per report) against plain Voilà start-up
(``ANALYTICS_PREHEAT=0``, the baseline), then a visitor opens the export builder in Chromium, exports
1,000,000 rows of events to XLSX and CSV, and we read the resident memory (RSS, and USS: memory no
other process shares) of that visitor's kernel against a fresh warm kernel.

Run: ``.venv/bin/python benchmarks/app_memory.py [--skip-server]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import psutil

from analytics import connect
from analytics.testing import ClickHouseServer
from analytics.testing.browser import CHROMIUM_ARGS, chromium_executable
from analytics.testing.clickhouse_server import free_port
from analytics.testing.figures import print_table
from analytics.warehouse import demo

REPO = Path(__file__).resolve().parents[1]
MB = 2**20


def start_app(url: str, home: Path, preheat: bool) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": url, "ANALYTICS_HOME": str(home),
                   "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks"), "ANALYTICS_PREHEAT": "1" if preheat else "0"}
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


def kernels(app: psutil.Process) -> list[psutil.Process]:
    return [child for child in app.children(recursive=True) if "ipykernel_launcher" in " ".join(child.cmdline())]


def settle(app: psutil.Process, expected_kernels: int) -> None:
    """Wait until the warm kernels are up and their memory stops growing."""
    deadline, last = time.monotonic() + 180, -1
    while time.monotonic() < deadline:
        found = kernels(app)
        total = sum(kernel.memory_info().rss for kernel in found)
        if len(found) >= expected_kernels and abs(total - last) < 2 * MB:
            return
        last = total
        time.sleep(3)


def memory(processes: list[psutil.Process]) -> tuple[float, float]:
    """(RSS, USS) in MB, summed."""
    infos = [process.memory_full_info() for process in processes]
    return sum(info.rss for info in infos) / MB, sum(info.uss for info in infos) / MB


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def measure(label: str, url: str, browser: object, rows: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as home:
        process, _ = start_app(url, Path(home), preheat=False)
        app = psutil.Process(process.pid)
        time.sleep(5)
        rss, uss = memory([app, *app.children(recursive=True)])
        rows.append(("idle app, baseline: plain Voilà (no warm kernels)", label, f"RSS {rss:,.0f} MB, USS {uss:,.0f} MB"))
        stop(process)

        process, base = start_app(url, Path(home), preheat=True)
        app = psutil.Process(process.pid)
        reports = len(list((REPO / "notebooks").rglob("*.ipynb")))
        settle(app, reports)
        rss, uss = memory([app, *app.children(recursive=True)])
        warm_rss, warm_uss = memory(kernels(app)[:1])
        rows.append((f"idle app as shipped ({reports} reports, a warm kernel each)", label,
                     f"RSS {rss:,.0f} MB, USS {uss:,.0f} MB (one warm kernel: RSS {warm_rss:,.0f} MB, USS {warm_uss:,.0f} MB)"))
        before = {kernel.pid for kernel in kernels(app)}

        end = demo.DEMO_END
        link = urlencode({"table": "events", "columns": ["event_time", "event", "user_id", "partner_id", "platform"],
                          "start": (end - dt.timedelta(days=89)).isoformat(), "end": end.isoformat(),
                          "row_limit": "1000000"}, doseq=True)
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(base + "voila/render/analysts/export_builder.ipynb?" + link)
        page.wait_for_selector(".widget-button", timeout=120_000)
        started = time.perf_counter()
        page.click("button:has-text('Run')")
        page.wait_for_selector(".run-result", timeout=900_000)
        seconds = time.perf_counter() - started
        exported = page.inner_text(".row-count")
        visitor = max((kernel for kernel in kernels(app) if kernel.pid in before), key=lambda k: k.memory_info().rss)
        peak = _peak_rss(visitor)
        rss, uss = memory([visitor])
        rows.append((f"visitor kernel after exporting {exported} rows (XLSX + CSV, {seconds:.0f} s)", label,
                     f"RSS {rss:,.0f} MB, USS {uss:,.0f} MB, peak RSS {peak:,.0f} MB; "
                     f"baseline, a fresh warm kernel: RSS {warm_rss:,.0f} MB"))
        page.close()
        stop(process)


def _peak_rss(process: psutil.Process) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows: list[tuple[str, str, str]] = []
    executable = chromium_executable()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        embedded = f"chdb://{folder}/store"
        with connect(embedded) as db:
            demo.load(db, "default", 42)
        measure("embedded (chDB 26 + Parquet)", embedded, browser, rows)
        if not args.skip_server:
            with ClickHouseServer() as server:
                with connect(server.url) as db:
                    demo.load(db, "default", 42)
                measure("server (ClickHouse 18.16)", server.url, browser, rows)
        browser.close()
    print_table(rows, "memory")


if __name__ == "__main__":
    main()
