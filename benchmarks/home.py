"""The home page from stored tiles against a page that computes each tile live, in the same run.

Run: ``.venv/bin/python benchmarks/home.py [--views 10]``. Starts Debian's ClickHouse server on loopback with
the small demo, computes the tiles once through their real jobs (``analytics tiles --refresh``), then opens,
in headless Chromium, ``views`` times each:

* the real ``analytics serve`` home page, which reads the stored tiles (files only);
* a page served by this script that runs each tile report (its default values) for every view and draws the
  same template with the fresh headlines: what a dashboard that queries per view does.

Queries are counted by the server itself (``system.events``' ``Query`` counter, read before and after each
view, less the reading query), so the count covers everything either page asked for; time to first paint is
the browser's ``first-contentful-paint``, and the server's part is ``responseStart - requestStart``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from analytics import connect, load_settings
from analytics.catalog import report_catalog
from analytics.context import RunContext
from analytics.home.store import StoredTile
from analytics.home.tiles import TileGroup, report_tile, tile_schedules
from analytics.reports import ab_summary, audit_trail, past_audiences, plastic_cards
from analytics.testing import ClickHouseServer
from analytics.testing.browser import CHROMIUM_ARGS, chromium_executable
from analytics.testing.clickhouse_server import free_port
from analytics.testing.figures import print_rows
from analytics.warehouse import demo
from analytics.web.handlers import TEMPLATES

REPO = Path(__file__).resolve().parents[1]
LIVE_REPORTS: dict[str, Callable] = {"account_managers/plastic_cards.ipynb": plastic_cards,
                                     "marketing/past_audiences.ipynb": past_audiences,
                                     "analysts/ab_summary.ipynb": ab_summary, "admin/audit_trail.ipynb": audit_trail}
PAINT = """() => { const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return [paint ? paint.startTime : null, nav.responseStart - nav.requestStart]; }"""


def queries_so_far(url: str) -> int:
    """The server's count of queries started; the reading query itself is one of them."""
    with connect(url) as db:
        return int(db.scalar("SELECT value FROM system.events WHERE event = 'Query'") or 0)


def live_page(settings, url: str) -> Callable[[], str]:  # type: ignore[no-untyped-def]
    """The home page as a dashboard that queries per view: every tile report runs for each view."""
    entries = {entry.path: entry for entry in report_catalog(settings.notebooks)}
    schedules = tile_schedules(settings)
    root = settings.notebooks.resolve()

    def render() -> str:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        groups: dict[str, list] = {}
        with connect(url) as db:
            ctx = RunContext(settings, db, "bench", "live")
            for schedule in schedules:
                path = schedule.notebook.resolve().relative_to(root).as_posix()
                headline = LIVE_REPORTS[path](ctx).headline
                stored = StoredTile(schedule.job, path, status="ran", refreshed_at=now, headline=headline)
                groups.setdefault(entries[path].audience, []).append(
                    report_tile(schedule, entries[path], stored, "/", now))
        return TEMPLATES.get_template("start.html").render(
            groups=[TileGroup(audience, tiles) for audience, tiles in groups.items()], report_groups=[], q="",
            found="", user="bench", sign_out=None, xsrf="")
    return render


@contextmanager
def serving_live(render: Callable[[], str]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path != "/":  # the browser's favicon request: not a view
                self.send_error(404)
                return
            body = render().encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except BrokenPipeError:  # the browser had moved on (a favicon's request, say)
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()


@contextmanager
def serving_app(environment: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port)], env=environment,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base, timeout=2).read()
                break
            except OSError:
                time.sleep(0.3)
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def settle(server_url: str, quiet_seconds: float = 5.0, longest: float = 120.0) -> None:
    """Wait until nothing but our own reading queries the server for ``quiet_seconds`` (the app's warm kernels
    have rendered their forms), so the figures are of page views only."""
    deadline, last, quiet_since = time.monotonic() + longest, queries_so_far(server_url), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet_seconds:
        time.sleep(0.5)
        now = queries_so_far(server_url)
        if now - last > 1:
            quiet_since = time.monotonic()
        last = now


def measure(page, url: str, server_url: str, views: int) -> tuple[list[float], list[float], list[int]]:  # type: ignore[no-untyped-def]
    page.goto(url)  # warm up
    settle(server_url)
    paints, responses, counts = [], [], []
    for _ in range(views):
        before = queries_so_far(server_url)
        page.goto(url, wait_until="load")
        page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0", timeout=10_000)
        paint, response = page.evaluate(PAINT)
        counts.append(queries_so_far(server_url) - before - 1)
        paints.append(paint)
        responses.append(response)
    return paints, responses, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder, ClickHouseServer() as server:
        with connect(server.url) as db:
            demo.load(db, "small", 42)
        home = Path(folder)
        environment = {**os.environ, "ANALYTICS_HOME": str(home), "ANALYTICS_DB_URL": server.url,
                       "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks"), "ANALYTICS_SCHEDULES": str(REPO / "schedules")}
        started = time.perf_counter()
        refreshed = subprocess.run([sys.executable, "-m", "analytics.cli", "tiles", "--refresh"], env=environment,
                                   capture_output=True, text=True)
        if refreshed.returncode:
            sys.exit(f"The tile jobs failed:\n{refreshed.stderr}")
        refresh = time.perf_counter() - started
        settings = load_settings(home=home, db_url=server.url, notebooks=REPO / "notebooks",
                                 schedules=REPO / "schedules")
        with sync_playwright() as playwright, serving_app(environment) as app, \
                serving_live(live_page(settings, server.url)) as live:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            rows = []
            for name, url in (("stored tiles (analytics serve)", app), ("live tiles (a query per tile per view)", live)):
                paints, responses, counts = measure(page, url, server.url, args.views)
                rows.append([name, f"{statistics.median(paints):,.0f} ms", f"{statistics.median(responses):,.0f} ms",
                             f"{statistics.mean(counts):,.1f}", f"{max(counts)}"])
            browser.close()
    print(f"Home page, {args.views} views each, small demo on Debian's ClickHouse server; tiles computed once by "
          f"their jobs in {refresh:,.0f} s (`analytics tiles --refresh`, 4 jobs, 2 at a time)")
    print_rows(["page", "first paint (median)", "server response (median)", "warehouse queries per view (mean)",
                "most queries in a view"], rows)


if __name__ == "__main__":
    main()
