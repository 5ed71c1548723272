"""Warm kernels follow visits: a visited report keeps more ready, a report nobody opens lets them go, the pools
together stay within the budget, and a report added after start gets one at its first visit.

The sizing rules run against a stand-in of Voilà's pool manager (its ``kernel_pools_config`` and ``_pools``, the
two things the rules read and write); the app test runs them in the real app and counts its kernels."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import psutil

from analytics.web.warm_pools import MOST_PER_REPORT, VISIT_WINDOW_SECONDS, WarmPools

from .conftest import REPO, report_folders, serving, wait_until
from .test_probes_web import app_kernels
from .test_queue_app import CONFIG, shut_down


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Pools:
    """Voilà's manager as the rules see it: the sizes it fills pools to, and the pools (filled at once here)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.kernel_pools_config = config
        self._pools: dict[str, list] = {report: [object()] * entry["pool_size"] for report, entry in config.items()
                                        if report != "default" and entry["pool_size"]}
        self.shut_down: list[str] = []

    def fill_if_needed(self, delay: float, notebook_name: str) -> None:
        self._pools[notebook_name] = [object()] * self.kernel_pools_config[notebook_name]["pool_size"]

    def __contains__(self, kernel_id: str) -> bool:
        return kernel_id not in self.shut_down

    def shutdown_kernel(self, kernel_id: str) -> None:
        self.shut_down.append(kernel_id)


def pools_of(reports: list[str], budget: int, idle: float = 1800.0) -> tuple[WarmPools, Pools, Clock]:
    clock = Clock()
    warm = WarmPools(None, lambda report: {"ANALYTICS_NOTEBOOK": report}, budget, idle, clock)
    manager = Pools(warm.configure(reports))
    warm.manager = manager
    return warm, manager, clock


def test_at_start_the_first_reports_within_the_budget_get_one_each() -> None:
    warm, _, _ = pools_of(["a", "b", "c"], budget=2)
    assert warm.sizes() == {"a": 1, "b": 1, "c": 0}


def test_recent_visits_grow_a_pool_up_to_the_most_per_report() -> None:
    warm, _, clock = pools_of(["a", "b"], budget=8)
    sizes = []
    for _ in range(6):
        warm.visited("a")
        sizes.append(warm.sizes()["a"])
        clock.now += 5
    assert sizes == [2, 3, 4, MOST_PER_REPORT, MOST_PER_REPORT, MOST_PER_REPORT]
    clock.now += VISIT_WINDOW_SECONDS
    assert warm.size("a", clock.now) == 1  # the rush is over: one stays ready until the idle time


def test_a_report_nobody_opened_for_the_idle_time_lets_its_kernels_go_and_comes_back_at_a_visit() -> None:
    warm, manager, clock = pools_of(["a", "b"], budget=4, idle=600)
    clock.now += 300
    warm.visited("a")
    clock.now += 400  # b: 700 s since start, a: 400 s since its visit
    assert warm.size("b", clock.now) == 0 and warm.size("a", clock.now) == 1
    warm.visited("b")
    assert warm.sizes()["b"] == 2 and len(manager._pools["b"]) >= 1


def test_past_the_budget_the_report_visited_longest_ago_gives_way() -> None:
    warm, _, clock = pools_of(["a", "b", "c"], budget=4)
    clock.now += 10
    warm.visited("b")
    clock.now += 10
    warm.visited("c")  # c wants 2, b has 2, a and the budget: a gives way first
    assert warm.sizes() == {"a": 0, "b": 2, "c": 2}


def test_the_idle_time_counts_from_when_the_warm_kernel_has_started_not_while_it_starts() -> None:
    async def run() -> list[Any]:
        warm, manager, clock = pools_of(["a"], budget=2, idle=20)
        starting = asyncio.get_running_loop().create_future()
        manager._pools["a"] = [starting]
        sizes = []
        clock.now += 30  # the kernel still starts after the idle time: kept
        await warm.trim()
        sizes.append(warm.sizes()["a"])
        starting.set_result({"kernel_id": "k"})
        clock.now += 15  # up 15 s ago: within the idle time
        await warm.trim()
        sizes.append(warm.sizes()["a"])
        clock.now += 15  # up 30 s ago and nobody came: let go
        await warm.trim()
        return sizes + [warm.sizes()["a"], len(manager._pools["a"]), manager.shut_down]

    with ThreadPoolExecutor(1) as thread:  # a loop of its own: an earlier test's Playwright runs one in this thread
        assert thread.submit(lambda: asyncio.run(run())).result() == [1, 1, 0, 0, ["k"]]


def test_a_report_added_after_start_gets_a_pool_at_its_first_visit() -> None:
    warm, manager, _ = pools_of(["a"], budget=4)
    warm.visited("new.ipynb")
    assert manager.kernel_pools_config["new.ipynb"]["kernel_env_variables"] == {"ANALYTICS_NOTEBOOK": "new.ipynb"}
    assert len(manager._pools["new.ipynb"]) == 2


PLASTIC = "account_managers/plastic_cards.ipynb"
PARTNERS = "account_managers/partner_cards.ipynb"


def visit(base: str, report: str) -> str:
    """Open the report as a browser does and close it again; the kernel id the page was given."""
    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with browser.open(base + "voila/render/" + report, timeout=120) as response:
        page = response.read().decode()
    kernel = json.loads(CONFIG.search(page).group(1))["kernelId"]  # type: ignore[union-attr]
    xsrf = next(cookie.value for cookie in jar if cookie.name == "_xsrf")
    shut_down(browser, base, kernel, xsrf)
    return kernel


def waiting(pid: int) -> bool:
    """The warm kernel has run its report and waits for a visitor: it used the CPU of running the report's cells,
    and no more in the last second (a visitor who comes before its report is known to Voilà gets a kernel of their
    own). A started kernel is known to Voilà before it runs a cell (ipykernel's start is ~0.25 s of CPU); the whole
    warm-up is 1.0-1.5 s, so 0.6 s is past the start on any machine (a threshold of 1 s missed a quick warm-up)."""
    kernel = psutil.Process(pid)
    before = sum(kernel.cpu_times()[:2])
    time.sleep(1)
    return before > 0.6 and sum(kernel.cpu_times()[:2]) - before < 0.05


def one_warm_and_waiting(served: Any) -> dict[str, int] | None:
    """The app's kernels, once there is one and it waits for a visitor (a process seen a moment ago may be gone)."""
    kernels = app_kernels(served)
    try:
        return kernels if len(kernels) == 1 and waiting(next(iter(kernels.values()))) else None
    except psutil.NoSuchProcess:
        return None


def test_in_the_app_visits_grow_the_pool_idle_reports_let_go_and_a_new_report_warms(embedded_url: str,
                                                                                     tmp_path: Path) -> None:
    notebooks = report_folders(tmp_path, PLASTIC)
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), ANALYTICS_WARM_KERNELS="3",
                 ANALYTICS_WARM_IDLE_SECONDS="30") as served:
        warm = wait_until(lambda: one_warm_and_waiting(served), 180, "the report's warm kernel never ran its report")
        assert visit(served.base, PLASTIC) in warm  # the first visitor takes the warm kernel
        warm = wait_until(lambda: set(app_kernels(served)) if len(app_kernels(served)) == 2 else None, 90,
                          "one visit did not make the pool two")
        assert visit(served.base, PLASTIC) in warm  # so does the second, right after
        wait_until(lambda: len(app_kernels(served)) == 3, 180, "two visits did not make the pool three (the budget)")
        wait_until(lambda: not app_kernels(served), 180, "warm kernels of a report nobody opens were kept")
        shutil.copy(REPO / "notebooks" / PARTNERS, notebooks / PARTNERS)  # a report added while the app runs
        visit(served.base, PARTNERS)
        wait_until(lambda: len(app_kernels(served)) == 2, 180, "the new report got no warm kernels")
