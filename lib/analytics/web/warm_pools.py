"""How many warm kernels each report keeps ready: as many as its recent visits call for, within a budget.

Voilà keeps a fixed pool per notebook (``kernel_pools_config``): one warm kernel per report is 14 idle kernels
before anyone visits, and still only one for a report five people open in a minute; the second of them waited
for a kernel to start and render (27-29 s under load). Here the pool of a report follows its visits:

* a visit raises the report's pool to ``1 + visits in the last VISIT_WINDOW_SECONDS`` (at most
  ``MOST_PER_REPORT``), and Voilà refills it as soon as the visitor takes a kernel;
* a report nobody opened for ``ANALYTICS_WARM_IDLE_SECONDS`` lets its warm kernels go (its next visitor starts
  one, and the report is warm again); the idle time counts from when its warm kernel has started, not while it
  still starts (on a busy machine a start took longer than a short idle time, and the kernel was let go the
  moment it was up);
* the pools together hold at most ``ANALYTICS_WARM_KERNELS``; past it the reports visited longest ago give way;
* a report added after the app started gets a pool at its first visit.

Voilà reads the pool sizes from ``kernel_pools_config`` each time it fills a pool, so changing the sizes there
is the whole protocol; kernels past a pool's size are shut down here.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async
from tornado.ioloop import PeriodicCallback

VISIT_WINDOW_SECONDS = 120.0  # visits this recent size the pool
MOST_PER_REPORT = 4  # warm kernels of one report at most
TRIM_EVERY_SECONDS = 15


class WarmPools:
    """The pool size of every report, kept in Voilà's ``kernel_pools_config``."""

    def __init__(self, manager: Any, environment: Callable[[str], dict[str, str]], budget: int, idle_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.manager, self.environment, self.budget, self.idle = manager, environment, budget, idle_seconds
        self.clock = clock
        self.visits: dict[str, deque[float]] = {}
        self.last_visit: dict[str, float] = {}

    def configure(self, reports: list[str]) -> dict[str, Any]:
        """Voilà's starting ``kernel_pools_config``: one warm kernel for each of the first `budget` reports, none for
        the rest (a report not named falls to ``default``)."""
        now = self.clock()
        config: dict[str, Any] = {"default": {"pool_size": 0}}
        for report in reports:
            config[report] = {"pool_size": 0, "kernel_env_variables": self.environment(report)}
        for report in reports[:self.budget]:
            config[report]["pool_size"] = 1
            self.last_visit[report] = now  # counts as seen at start: warm for the first idle period
        return config

    def install(self) -> None:
        PeriodicCallback(self.trim, TRIM_EVERY_SECONDS * 1000).start()

    def visited(self, report: str) -> None:
        """A visitor opens `report`: size its pool for the visits of the last minutes, before Voilà takes a kernel
        from it (Voilà then refills it to this size)."""
        now = self.clock()
        recent = self.visits.setdefault(report, deque())
        recent.append(now)
        self.last_visit[report] = now
        config = self.manager.kernel_pools_config
        entry = config.setdefault(report, {"kernel_env_variables": self.environment(report)})
        entry["pool_size"] = self.size(report, now)
        self._within_budget(now, keep=report)
        if not self.manager._pools.get(report):  # a report let go, or added after start: warm one now
            self.manager.fill_if_needed(delay=0, notebook_name=report)

    def size(self, report: str, now: float) -> int:
        """What the report's visits call for: none after the idle time, else one more than the recent visits."""
        if now - self.last_visit.get(report, -float("inf")) > self.idle:
            return 0
        recent = self.visits.get(report, deque())
        while recent and now - recent[0] > VISIT_WINDOW_SECONDS:
            recent.popleft()
        return min(MOST_PER_REPORT, 1 + len(recent), self.budget)

    def sizes(self) -> dict[str, int]:
        return {report: entry.get("pool_size", 0) for report, entry in self.manager.kernel_pools_config.items()
                if report != "default"}

    async def trim(self) -> None:
        """Resize every pool for the visits now, and shut down the warm kernels past their pool's size."""
        now = self.clock()
        for report, pool in self.manager._pools.items():
            if warming(pool):
                self.last_visit[report] = now  # its idle time counts from when it has started
        for report, entry in self.manager.kernel_pools_config.items():
            if report != "default":
                entry["pool_size"] = self.size(report, now)
        self._within_budget(now)
        for report, wanted in self.sizes().items():
            pool = self.manager._pools.get(report, [])
            while len(pool) > wanted:
                await self._let_go(pool.pop())

    def _within_budget(self, now: float, keep: str = "") -> None:
        """Shrink the pools of the reports visited longest ago until all of them fit the budget."""
        config = self.manager.kernel_pools_config
        by_age = sorted((report for report in self.sizes() if report != keep),
                        key=lambda report: self.last_visit.get(report, -float("inf")))
        while sum(self.sizes().values()) > self.budget and by_age:
            oldest = by_age[0]
            config[oldest]["pool_size"] = max(0, config[oldest]["pool_size"] - 1)
            if not config[oldest]["pool_size"]:
                by_age.pop(0)

    async def _let_go(self, task: asyncio.Future) -> None:
        try:
            kernel_id = (await task)["kernel_id"]
        except Exception:  # noqa: BLE001 - a warm kernel that failed to start has nothing to shut down
            return
        if kernel_id in self.manager:
            await ensure_async(self.manager.shutdown_kernel(kernel_id))


def warming(pool: list[asyncio.Future]) -> bool:
    """Whether a warm kernel of the pool is still starting (Voilà's pool item resolves once the kernel is up; the
    render task it then holds never ends while the kernel waits, so "started" is the moment we can see)."""
    return any(not item.done() for item in pool)
