"""Twenty visitors of one report against a cap of four kernels: each waits in line, is let in in the order they
came, and reaches a usable form; never more than four pages hold a kernel at once. Plain HTTP visitors, as a
browser without scripts would be: the waiting page refreshes itself, the report page streams the form."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .conftest import report_folders, serving

REPORT = "account_managers/plastic_cards.ipynb"
VISITORS, CAP = 20, 4
CONFIG = re.compile(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', re.S)


@dataclass
class Visitor:
    number: int
    places: list[int] = field(default_factory=list)  # each place the waiting page showed
    form: bool = False
    error: str = ""

    def visit(self, base: str, log: list[tuple[str, int]], lock: threading.Lock) -> None:
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        deadline = time.monotonic() + 240
        try:
            while time.monotonic() < deadline:
                response = browser.open(base + "voila/render/" + REPORT, timeout=120)
                if response.headers["X-Queue-Place"]:
                    with response:
                        page = response.read().decode()
                    place = re.search(r"You are (\d+)(?:st|nd|rd|th) in line, about \d+ (?:s|min)\.", page)
                    assert place and place.group(1) == response.headers["X-Queue-Place"], page
                    self.places.append(int(place.group(1)))
                    time.sleep(1)  # the page itself refreshes every two seconds
                    continue
                with lock:  # let in: the report page's headers came before its body
                    log.append(("in", self.number))
                with response:
                    page = response.read().decode()
                # the form's widgets, drawn by the page's scripts from the kernel, and no error output
                self.form = "Plastic cards issued" in page and "widget-view+json" in page and "Traceback" not in page
                time.sleep(0.5)  # reads the form
                self.leave(browser, jar, base, CONFIG.search(page).group(1), log, lock)  # type: ignore[union-attr]
                return
            self.error = "never let in"
        except Exception as error:  # noqa: BLE001 - the test reports every visitor's failure
            self.error = repr(error)

    def leave(self, browser: urllib.request.OpenerDirector, jar: http.cookiejar.CookieJar, base: str,
              config: str, log: list[tuple[str, int]], lock: threading.Lock) -> None:
        """What the page sends on closing: a shutdown request for its kernel, with the _xsrf cookie's value."""
        xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")
        with lock:
            log.append(("out", self.number))
        shut_down(browser, base, json.loads(config)["kernelId"], xsrf)


def shut_down(browser: urllib.request.OpenerDirector, base: str, kernel: str, xsrf: str) -> None:
    """The shutdown request a report page sends for its kernel on closing, with the _xsrf cookie's value."""
    with browser.open(urllib.request.Request(base + "voila/api/shutdown/" + kernel, method="POST",
                                             data=urllib.parse.urlencode({"_xsrf": xsrf}).encode()), timeout=60) as reply:
        reply.read()  # read and closed: an open reply's socket warned in whichever test collected it


def test_twenty_visitors_against_a_cap_of_four_all_reach_the_form_in_order(embedded_url: str, tmp_path: Path) -> None:
    notebooks = report_folders(tmp_path, REPORT)
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), ANALYTICS_PREHEAT="0",
                 ANALYTICS_MAX_VISITOR_KERNELS=str(CAP)) as served:
        log: list[tuple[str, int]] = []
        lock = threading.Lock()
        visitors = [Visitor(number) for number in range(VISITORS)]
        threads = []
        for visitor in visitors:  # one after another, so the order they came in is known
            threads.append(threading.Thread(target=visitor.visit, args=(served.base, log, lock)))
            threads[-1].start()
            time.sleep(0.3)
        for thread in threads:
            thread.join(timeout=300)
    assert [visitor.error for visitor in visitors] == [""] * VISITORS
    assert all(visitor.form for visitor in visitors)
    waited = [visitor.number for visitor in visitors if visitor.places]
    assert len(waited) >= VISITORS - CAP - 2  # most of them waited in line
    assert [number for kind, number in log if kind == "in" and number in waited] == waited  # first come, first served
    holding, most = 0, 0
    for kind, _ in log:
        holding += 1 if kind == "in" else -1
        most = max(most, holding)
    assert most <= CAP
    for visitor in visitors:  # a place only ever moves up
        assert visitor.places == sorted(visitor.places, reverse=True), visitor.places

