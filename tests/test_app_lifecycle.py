"""The app cleans up after itself: SIGTERM ends it and its kernels; closed or abandoned pages leave no kernel
for more than seconds; past the cap a visitor waits in line on a page that opens the report by itself."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import psutil
import pytest

from .conftest import report_folders, serving, wait_until
from .test_probes_pages import kernel_of
from .test_probes_web import app_kernels

# Two reports: the lifecycle is the same for any report, two pages are "more than one", and a warm kernel per
# report of a whole group (five, each refilled after a visit) made these apps start 38 kernels in all.
REPORTS = ["account_managers/partner_cards.ipynb", "account_managers/plastic_cards.ipynb"]
POOL = len(REPORTS)  # one warm kernel per report
WARM_ALL = {"ANALYTICS_WARM_KERNELS": str(POOL)}  # the suite's apps keep one warm kernel unless told (conftest.serving)


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report_folders(tmp_path_factory.mktemp("lifecycle"), *REPORTS)


def kernels(app: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in app.children(recursive=True):
        try:
            if "ipykernel_launcher" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def open_report(browser, base: str, report: str):  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(base + "voila/render/" + report, timeout=90_000)  # right after start, every report's warm kernel is starting
    page.wait_for_selector(".widget-button", timeout=90_000)
    return page


def leave(page) -> None:  # type: ignore[no-untyped-def]
    """Leave the page as a person closing the tab does: the page sends its shutdown request on the way out.

    (Navigating away runs the page's unload handlers and delivers its beacon; headless Chromium
    drops a beacon sent while the page itself is being destroyed.)
    """
    page.goto("about:blank")
    page.close()


def port_is_free(port: int) -> bool:
    """Nothing listens on the port (connections of the past may linger in TIME_WAIT; a server reuses those)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_sigterm_stops_the_app_and_every_kernel_within_seconds(browser, embedded_url: str, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                               notebooks: Path) -> None:
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), **WARM_ALL) as served:
        app = psutil.Process(served.process.pid)  # `analytics serve` became the app: one process to signal
        pages = [open_report(browser, served.base, report) for report in REPORTS[:2]]
        family = [app, *app.children(recursive=True)]
        assert len(kernels(app)) >= 2
        os.kill(served.process.pid, signal.SIGTERM)
        wait_until(lambda: not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], 10,
                   "a process of the app outlived the SIGTERM by 10 seconds")
        served.process.wait(timeout=5)
        assert port_is_free(served.port)
        for page in pages:
            page.close()


def test_closed_pages_end_their_kernels(browser, embedded_url: str, tmp_path: Path, notebooks: Path) -> None:  # type: ignore[no-untyped-def]
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), **WARM_ALL, ANALYTICS_KERNEL_IDLE_SECONDS="600",
                 ANALYTICS_KERNEL_LEFT_SECONDS="600", ANALYTICS_MAX_VISITOR_KERNELS="2") as served:
        app = psutil.Process(served.process.pid)
        wait_until(lambda: len(kernels(app)) >= POOL, 90, "the warm kernels never started")
        visited = []
        for visit in range(5):  # past the cap of two: a closed page that kept its kernel would keep the next in line
            page = open_report(browser, served.base, REPORTS[visit % len(REPORTS)])
            visited.append(kernel_of(page))
            leave(page)
        wait_until(lambda: not set(visited) & set(app_kernels(served)), 30,
                   "closed pages left their kernels running (the page's shutdown request was refused?)")


def test_an_abandoned_page_ends_its_kernel_within_seconds(browser, embedded_url: str, tmp_path: Path, notebooks: Path) -> None:  # type: ignore[no-untyped-def]
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), **WARM_ALL,
                 ANALYTICS_KERNEL_IDLE_SECONDS="600") as served:
        app = psutil.Process(served.process.pid)
        wait_until(lambda: len(kernels(app)) >= POOL, 90, "the warm kernels never started")
        context = browser.new_context()
        page = context.new_page()
        page.goto(served.base + "voila/render/" + REPORTS[0], timeout=90_000)
        page.wait_for_selector(".widget-button", timeout=90_000)
        visited = kernel_of(page)
        context.close()  # gone without the page's shutdown request, like a killed browser
        wait_until(lambda: visited not in app_kernels(served), 40,  # ANALYTICS_KERNEL_LEFT_SECONDS is 10, the idle time 600
                   "an abandoned page's kernel outlived its page by 40 seconds")


def test_past_the_cap_a_visitor_waits_in_line_and_the_page_opens_by_itself(browser, embedded_url: str,  # type: ignore[no-untyped-def]
                                                                           tmp_path: Path, notebooks: Path) -> None:
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), **WARM_ALL, ANALYTICS_MAX_VISITOR_KERNELS="1",
                 ANALYTICS_KERNEL_LEFT_SECONDS="2") as served:
        first = browser.new_context()
        open_report(first, served.base, REPORTS[0])
        waiting = browser.new_page()
        waiting.goto(served.base + "voila/render/" + REPORTS[1], timeout=60_000)
        place = waiting.wait_for_selector(".queue-place", timeout=30_000).inner_text()
        assert place.startswith("You are 1st in line, about ") and place.endswith(" s.")
        waiting.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
        first.close()  # the other visitor's browser goes away: their kernel ends, and the line moves
        waiting.wait_for_selector(".widget-button", timeout=90_000)  # the waiting page became the report by itself
        assert "in line" not in waiting.content()
        waiting.close()
