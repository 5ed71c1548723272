"""The web app: Voilà, plus a start page that lists the reports, downloads of exported files, a warm
kernel waiting for each report, and visitor kernels that end with their visit.

* A page sends a shutdown request when it closes, which Voilà refuses for a missing ``_xsrf`` value
  (voila#1458): the report page sets that cookie, so the request succeeds.
* A page killed without closing leaves an idle kernel with no connection: it is culled after
  ``ANALYTICS_KERNEL_IDLE_SECONDS``.
* At most ``ANALYTICS_MAX_VISITOR_KERNELS`` visitor kernels run; past that a visitor gets a plain
  "busy, try again shortly" page instead of a new kernel.
* SIGTERM or SIGINT stops the web server and shuts down every kernel it started (Voilà's own stop).
* With ``ANALYTICS_AMPLITUDE_URL=demo`` (``make run``) a local stand-in answers Amplitude's cohort API with
  cohorts of the demo warehouse (``demo_ios``, ``demo_moscow``, ``demo_new``, ``demo_sample``).
* Pages load nothing from another site (:mod:`analytics.web.assets`): Voilà's template without its CDN links,
  and a content-security policy on every response.
* Every handler sits behind the gate (:mod:`analytics.web.gate`): host names, sign-in, permissions.
  Serving beyond loopback without a way to sign in refuses to start.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from voila.app import Voila

from ..access.identity import CLIENT_HEADER, USER_HEADER
from ..access.serving import how_to_sign_in, is_loopback, sign_in_configured
from ..catalog import report_notebooks
from ..config import load_settings
from ..testing.fakes.amplitude import DEMO, start_demo_amplitude
from .assets import CONTENT_SECURITY_POLICY, voila_template_paths
from .gate import AnalyticsIdentityProvider, Gate, cookie_secret, guarded
from .handlers import SECURITY_HEADERS, our_handlers, replace_report_handler

CULL_INTERVAL_SECONDS = 10


class AnalyticsApp(Voila):
    """Voilà with our handlers, preheated kernels per report, and culling of idle visitor kernels."""

    def initialize(self, argv: list[str] | None = None) -> None:
        settings = load_settings()
        if settings.amplitude_url == DEMO:  # `make run`: cohorts from the demo warehouse, Amplitude's protocol
            self.demo_amplitude = start_demo_amplitude(settings.database_url, os.environ)
            if self.demo_amplitude is not None:
                self.log.info("Demo Amplitude on %s: cohorts %s", self.demo_amplitude.url, ", ".join(self.demo_amplitude.cohorts))
        manager = self.config.MappingKernelManager
        manager.cull_idle_timeout = int(settings.kernel_idle_seconds)
        manager.cull_interval = max(1, min(CULL_INTERVAL_SECONDS, int(settings.kernel_idle_seconds) // 2))
        manager.cull_connected = False  # a kernel with an open page is the visitor's, however quiet
        manager.cull_busy = False  # a preheated kernel waits for its visitor inside a running cell
        if settings.preheat:
            notebooks = settings.notebooks
            self.config.VoilaConfiguration.preheat_kernel = True
            self.config.VoilaKernelManager.kernel_pools_config = {
                path.relative_to(notebooks).as_posix(): {"pool_size": 1,
                                                         "kernel_env_variables": {"ANALYTICS_NOTEBOOK": str(path)}}
                for path in report_notebooks(notebooks)}
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
                                 "xsrf_cookie_kwargs": {"samesite": "Lax"},
                                 "headers": {**self.tornado_settings.get("headers", {}), **SECURITY_HEADERS,
                                             "Content-Security-Policy": CONTENT_SECURITY_POLICY}}

    def setup_template_dirs(self) -> None:
        super().setup_template_dirs()
        self.template_paths = voila_template_paths(self.template_paths)  # report pages without CDN links

    def init_handlers(self) -> list:
        settings = load_settings()
        self.gate.kernels = self.kernel_manager
        self._record_visitor_kernels()
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
    main()
