"""The web app: Voilà, plus a start page that lists the reports, downloads of exported files, a warm
kernel waiting for each report, and visitor kernels that end with their visit.

* A page sends a shutdown request when it closes, which Voilà refuses for a missing ``_xsrf`` value
  (voila#1458): the report page sets that cookie, so the request succeeds.
* A page killed without closing leaves an idle kernel with no connection: it is culled after
  ``ANALYTICS_KERNEL_IDLE_SECONDS`` counted from the page's last contact (see :class:`VisitCuller`); a
  kernel with an open page, or whose first page is still loading, is never culled.
* At most ``ANALYTICS_MAX_VISITOR_KERNELS`` visitor kernels run; past that a visitor waits in line ("you are
  3rd in line, about 20 s", :mod:`analytics.web.queue`) on a page that opens the report by itself.
* SIGTERM or SIGINT stops the web server and shuts down every kernel it started (Voilà's own stop).
* With ``ANALYTICS_AMPLITUDE_URL=demo`` (``make run``) a local stand-in answers Amplitude's cohort API with
  cohorts of the demo warehouse (``demo_ios``, ``demo_moscow``, ``demo_new``, ``demo_sample``); with
  ``ANALYTICS_AMOCRM_URL=demo`` (``make run`` too) another answers amoCRM's API with the demo account at its end,
  the one ``analytics demo-data`` loaded into the store, and the kernels get its address and token.
* Pages load nothing from another site (:mod:`analytics.web.assets`): Voilà's template without its CDN links,
  and a content-security policy on every response.
* Every handler sits behind the gate (:mod:`analytics.web.gate`): host names, sign-in, permissions.
  Serving beyond loopback without a way to sign in refuses to start.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server._tz import utcnow
from tornado.ioloop import IOLoop
from voila.app import Voila

from ..access.identity import CLIENT_HEADER, USER_HEADER
from ..access.serving import how_to_sign_in, is_loopback, sign_in_configured
from ..catalog import report_notebooks
from ..clients import amocrm
from ..clients.demo_amocrm import start_demo_amocrm
from ..clients.local_amplitude import DEMO, start_demo_amplitude
from ..config import load_settings
from ..exports.files import PRIVATE_UMASK
from ..kernel_sockets import TRANSPORT
from ..uploads import UPLOAD_LIMIT
from .assets import CONTENT_SECURITY_POLICY, voila_template_paths
from .gate import AnalyticsIdentityProvider, Gate, cookie_secret, guarded
from .handlers import SECURITY_HEADERS, our_handlers, replace_report_handler
from .queue import VisitorQueue
from .warm_pools import WarmPools

CULL_INTERVAL_SECONDS = 10
FIRST_PAGE_LOAD_SECONDS = 120  # a kernel no page has reached yet: starting, rendering, or its page's scripts loading
# A chosen file reaches the kernel as one websocket message (ipywidgets' FileUpload, binary buffers); tornado refuses
# messages over 10 MiB by default and closes the page's connection, and the page then hangs without a word. Twice
# the upload limit: a file up to 200 MB reaches the form, which refuses one over 100 MB in a sentence.
WEBSOCKET_MESSAGE_LIMIT = 2 * UPLOAD_LIMIT


class VisitCuller:
    """Which idle kernels the culler may end, on top of jupyter_server's rules (busy and connected kernels stay),
    and the end of a kernel whose page went away.

    Jupyter counts a kernel's idleness from its last message, which for a kernel no page has reached yet is
    its start: under load a kernel still starting, or handed to a page whose scripts are still loading, was
    culled and the page hung. Here a kernel no page has connected to yet waits at least
    ``FIRST_PAGE_LOAD_SECONDS``; a kernel with an open page is never culled. When a page's connection closes
    (a closed tab whose shutdown request was lost, a killed browser) and no page connects again within
    ``left_seconds``, the kernel ends then, not after the idle time: its slot goes to the next in line.
    """

    def __init__(self, manager: Any, idle_seconds: float, left_seconds: float = 10.0) -> None:
        self.manager = manager
        self.left_seconds = left_seconds
        self.idle = dt.timedelta(seconds=idle_seconds)
        self.first_load = dt.timedelta(seconds=max(idle_seconds, FIRST_PAGE_LOAD_SECONDS))
        self.left: dict[str, dt.datetime] = {}  # kernel id -> when its page's websocket last closed
        self.visited: set[str] = set()  # kernels a page has connected to

    def install(self) -> None:
        manager = self.manager
        connect, disconnect, cull = manager.notify_connect, manager.notify_disconnect, manager.cull_kernel_if_idle

        def notify_connect(kernel_id: str) -> None:
            self.visited.add(kernel_id)
            connect(kernel_id)

        def notify_disconnect(kernel_id: str) -> None:
            self.left[kernel_id] = utcnow()
            disconnect(kernel_id)
            IOLoop.current().call_later(self.left_seconds, self._end_if_still_gone, kernel_id)

        async def cull_kernel_if_idle(kernel_id: str) -> None:
            self._forget_ended()
            if kernel_id in manager._kernels and self.too_soon(kernel_id, utcnow()):
                return
            await ensure_async(cull(kernel_id))  # Voilà's (warm kernels stay) and jupyter_server's rules

        manager.notify_connect, manager.notify_disconnect = notify_connect, notify_disconnect
        manager.cull_kernel_if_idle = cull_kernel_if_idle

    async def _end_if_still_gone(self, kernel_id: str) -> None:
        if kernel_id not in self.manager._kernels or self.manager._kernel_connections.get(kernel_id, 0):
            return  # shut down by its page's request already, or a page connected again
        self.manager.log.info("Kernel %s: its page left %s s ago; shutting it down", kernel_id, self.left_seconds)
        await ensure_async(self.manager.shutdown_kernel(kernel_id))

    def too_soon(self, kernel_id: str, now: dt.datetime) -> bool:
        kernel = self.manager._kernels[kernel_id]
        if getattr(kernel, "execution_state", None) == "dead":
            return False
        if self.manager._kernel_connections.get(kernel_id, 0):
            return True  # an open page
        last = getattr(kernel, "last_activity", None) or now
        if kernel_id not in self.visited:
            return now - last < self.first_load
        return now - max(last, self.left.get(kernel_id, last)) < self.idle

    def _forget_ended(self) -> None:
        for kernel_id in self.visited - set(self.manager._kernels):
            self.visited.discard(kernel_id)
            self.left.pop(kernel_id, None)


class AnalyticsApp(Voila):
    """Voilà with our handlers, preheated kernels per report, and culling of idle visitor kernels."""

    def initialize(self, argv: list[str] | None = None) -> None:
        settings = load_settings()
        if settings.amplitude_url == DEMO:  # `make run`: cohorts from the demo warehouse, Amplitude's protocol
            self.demo_amplitude = start_demo_amplitude(settings.database_url, os.environ)
            if self.demo_amplitude is not None:
                self.log.info("Demo Amplitude on %s: cohorts %s", self.demo_amplitude.url, ", ".join(self.demo_amplitude.cohorts))
        if settings.amocrm_url == amocrm.DEMO:  # `make run`: the demo amoCRM account, amoCRM's protocol
            self.demo_amocrm = start_demo_amocrm(os.environ)
            self.log.info("Demo amoCRM on %s: %s leads", self.demo_amocrm.url, f"{len(self.demo_amocrm.entities['leads']):,}")
        self.config.KernelManager.transport = TRANSPORT  # Unix sockets: see analytics.kernel_sockets
        manager = self.config.MappingKernelManager
        manager.cull_idle_timeout = int(settings.kernel_idle_seconds)
        manager.cull_interval = max(1, min(CULL_INTERVAL_SECONDS, int(settings.kernel_idle_seconds) // 2))
        manager.cull_connected = False  # a kernel with an open page is the visitor's, however quiet
        manager.cull_busy = False  # a preheated kernel waits for its visitor inside a running cell
        self.warm_pools: WarmPools | None = None
        if settings.preheat:
            notebooks = settings.notebooks
            self.warm_pools = WarmPools(None, lambda report: {"ANALYTICS_NOTEBOOK": str(notebooks / report)},
                                        settings.warm_kernels, settings.warm_idle_seconds)
            self.config.VoilaConfiguration.preheat_kernel = True
            self.config.VoilaKernelManager.kernel_pools_config = self.warm_pools.configure(
                [path.relative_to(notebooks).as_posix() for path in report_notebooks(notebooks)])
        self.config.Voila.identity_provider_class = AnalyticsIdentityProvider
        self.config.Voila.cookie_secret = cookie_secret(settings)
        self.config.VoilaConfiguration.allow_template_override = "NO"  # a link cannot pick a template with CDN links
        self.config.VoilaConfiguration.http_header_envs = [USER_HEADER, CLIENT_HEADER]  # set by the gate, never the browser
        super().initialize(argv)
        if not is_loopback(self.ip or "0.0.0.0") and not sign_in_configured(settings):
            self.log.critical(how_to_sign_in(settings))
            self.exit(1)
        self.gate = Gate(settings, self.base_url, self.ip)
        self.tornado_settings = {**self.tornado_settings, "analytics_gate": self.gate, "analytics_settings": settings,
                                 "analytics_queue": VisitorQueue(), "analytics_pools": self.warm_pools,
                                 "xsrf_cookie_kwargs": {"samesite": "Lax"},
                                 "websocket_max_message_size": WEBSOCKET_MESSAGE_LIMIT,
                                 "headers": {**self.tornado_settings.get("headers", {}), **SECURITY_HEADERS,
                                             "Content-Security-Policy": CONTENT_SECURITY_POLICY}}

    def setup_template_dirs(self) -> None:
        super().setup_template_dirs()
        self.template_paths = voila_template_paths(self.template_paths)  # report pages without CDN links

    def init_handlers(self) -> list:
        settings = load_settings()
        self.gate.kernels = self.kernel_manager
        if self.warm_pools is not None:
            self.warm_pools.manager = self.kernel_manager
            self.warm_pools.install()
        self._record_visitor_kernels()
        VisitCuller(self.kernel_manager, settings.kernel_idle_seconds, settings.kernel_left_seconds).install()
        handlers = our_handlers(self, settings, Path(self.root_dir)) + replace_report_handler(super().init_handlers(), settings)
        return guarded(handlers)

    def _record_visitor_kernels(self) -> None:
        """Tell the gate which report each visitor kernel runs (warm kernels are known to Voilà's pools)."""
        start_kernel = self.kernel_manager.start_kernel
        gate = self.gate

        async def recording_start_kernel(*args: Any, **kwargs: Any) -> str:
            kernel_id = await ensure_async(start_kernel(*args, **kwargs))
            gate.record_kernel(kernel_id, kwargs.get("env") or {})
            return kernel_id

        self.kernel_manager.start_kernel = recording_start_kernel


main = AnalyticsApp.launch_instance

if __name__ == "__main__":
    os.umask(PRIVATE_UMASK)  # started directly (not through `analytics serve`): its files are still the owner's only
    main()
