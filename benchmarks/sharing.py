"""What sign-in, permissions and the audit cost.

Run: ``.venv/bin/python benchmarks/sharing.py [--runs 9] [--downloads 300]`` (visits vary by ±0.5 s, so take 9).

1. Time to a usable form in Debian's headless Chromium: the app signed in (served on 0.0.0.0 with a users
   file; the browser holds a session cookie, as a person who signed in that morning) against the open app
   of before (loopback, no sign-in configured). Target: within 10%.
2. Requests per second of the download handler: ours (host check, session check, owner check, SHA-256 of
   the file and an audit row per download) against a plain tornado StaticFileHandler serving the same file.
3. ``GET /login`` alone (the baseline) and while 8 wrong sign-ins are checked: Argon2 runs on a small
   pool, off the server's one thread, so the page should take about as long (it took 1.03 s against 4 ms
   alone with 4 wrong sign-ins when the check ran on the server's thread, issue 17).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from playwright.sync_api import sync_playwright
from tornado import web
from tornado.httpserver import HTTPServer

from analytics import connect
from analytics.access.identity import os_user, user_folder
from analytics.access.users import UsersFile
from analytics.testing.browser import CHROMIUM_ARGS, chromium_executable
from analytics.testing.clickhouse_server import free_port
from analytics.testing.figures import print_table
from analytics.testing.http import Client
from analytics.warehouse import demo
from form_latency import time_to_form  # benchmarks/ is on the path when run as a script

NAME, PASSWORD = "anna", "anna-password-1"
FILE = "plastic_cards_bench_20261201-000000_0123456789abcdef.csv"


def serve(url: str, home: Path, ip: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    environment = {**os.environ, "ANALYTICS_DB_URL": url, "ANALYTICS_HOME": str(home)}
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port), "--ip", ip],
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    client = Client(port)
    for _ in range(600):
        try:
            if client.get("/login").status in (200, 302):
                break
        except OSError:
            time.sleep(0.2)
    return process, port


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    process.wait(timeout=30)


def form_timings(port: int, runs: int, sign_in: bool) -> list[float]:
    base = f"http://127.0.0.1:{port}/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        context = browser.new_context()
        if sign_in:
            page = context.new_page()
            page.goto(base + "login")
            page.fill("#name", NAME)
            page.fill("#password", PASSWORD)
            page.click("button:has-text('Sign in')")
            page.wait_for_selector("li.report")
            page.close()
        found = time_to_form(context, base, runs, pause=8.0)
        browser.close()
    return found


def downloads_per_second(client: Client, path: str, count: int) -> float:
    assert client.get(path).status == 200, path
    started = time.perf_counter()
    for _ in range(count):
        reply = client.get(path)
        assert reply.status == 200
    return count / (time.perf_counter() - started)


def login_page_seconds(port: int, runs: int, wrong_sign_ins: int) -> list[float]:
    """``GET /login`` times, each while ``wrong_sign_ins`` wrong sign-ins (from addresses of their own, so no
    limit stops them) are being checked."""
    times = []
    with ThreadPoolExecutor(wrong_sign_ins + 1) as pool:
        for run in range(runs):
            busy = [pool.submit(Client(port, source=f"127.0.{run + 1}.{n + 1}").sign_in, NAME, f"wrong-{n}")
                    for n in range(wrong_sign_ins)]
            time.sleep(0.05 if busy else 0)  # let the sign-ins reach the server first
            started = time.perf_counter()
            assert Client(port).get("/login").status == 200
            times.append(time.perf_counter() - started)
            for future in busy:
                future.result()
    return times


def plain_static_server(folder: Path) -> int:
    """The baseline: tornado's StaticFileHandler on the same folder, no gate, no audit."""
    port = free_port()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        server = HTTPServer(web.Application([(r"/exports/(.*)", web.StaticFileHandler, {"path": str(folder)})]))
        server.listen(port, "127.0.0.1")
        ready.set()
        asyncio.get_event_loop().run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--downloads", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        url = f"chdb://{root}/store"
        with connect(url) as db:
            demo.load(db, "default", 42)
        open_home, signed_home = root / "open", root / "signed"
        UsersFile(signed_home / "users.json").add(NAME, PASSWORD, ["account_managers"])
        payload = ("card_number;barcode;issued_at\n" + "4276000011112222;4600000000001;2026-10-01 10:00:00\n" * 20_000)
        for home, person in ((open_home, os_user()), (signed_home, NAME)):
            folder = home / "reports" / "exports" / user_folder(person)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / FILE).write_text(payload)
        size_mb = len(payload) / 1e6

        process, port = serve(url, open_home, "127.0.0.1")
        try:
            open_times = form_timings(port, args.runs, sign_in=False)
        finally:
            stop(process)
        process, port = serve(url, signed_home, "0.0.0.0")
        try:
            signed_times = form_timings(port, args.runs, sign_in=True)
            client = Client(port)
            client.sign_in(NAME, PASSWORD)
            ours = downloads_per_second(client, f"/exports/{NAME}/{FILE}", args.downloads)
            login_alone = login_page_seconds(port, args.runs, 0)
            login_busy = login_page_seconds(port, args.runs, 8)
        finally:
            stop(process)
        baseline_port = plain_static_server(signed_home / "reports" / "exports")
        plain = downloads_per_second(Client(baseline_port), f"/exports/{NAME}/{FILE}", args.downloads)

    open_median, signed_median = statistics.median(open_times), statistics.median(signed_times)
    form = "time to a usable form (Chromium)"
    download = f"downloads of a {size_mb:.1f} MB CSV, one at a time"
    print_table([
        (form, "open app (loopback, no sign-in)", f"median {open_median:.2f} s, worst {max(open_times):.2f} s"),
        (form, "signed in (0.0.0.0, session cookie)", f"median {signed_median:.2f} s, worst {max(signed_times):.2f} s"),
        (form, "signed in vs open", f"{(signed_median / open_median - 1) * 100:+.1f}%"),
        (download, "plain tornado StaticFileHandler (no gate, no audit)", f"{plain:.0f} requests/s"),
        (download, "ours: host, session, owner checks + SHA-256 + audit row", f"{ours:.0f} requests/s ({ours / plain:.2f}x)"),
        ("GET /login", "alone (baseline)", f"median {statistics.median(login_alone) * 1000:.0f} ms"),
        ("GET /login", "while 8 wrong sign-ins are checked", f"median {statistics.median(login_busy) * 1000:.0f} ms, "
                                                               f"worst {max(login_busy) * 1000:.0f} ms"),
    ], "figure")

if __name__ == "__main__":
    main()
