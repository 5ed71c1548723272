"""Our request handlers beside Voilà's: the start page, export downloads, and the report page's guard."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from jupyter_server.utils import url_path_join
from tornado import web
from voila.tornado.handler import TornadoVoilaHandler

from ..catalog import report_catalog
from ..config import Settings

EXPORT_NAME = re.compile(r"^[\w.-]+\.(xlsx|csv)$", re.UNICODE)
CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
BUSY_RETRY_SECONDS = 20
# Sent with every response, ours and Voilà's (Voilà's handlers read them from the "headers" setting).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "X-Frame-Options": "SAMEORIGIN", "Cross-Origin-Opener-Policy": "same-origin"}
# Voilà handlers that list or serve the notebook folder's files: the app shows reports, never their sources.
CLOSED_PATHS = ("/voila/api/contents", "/voila/tree", "/voila/files/")


class SecureHeaders:
    """Mixin for our own handlers: the same security headers as Voilà's."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)  # type: ignore[attr-defined]


class ExportDownloadHandler(SecureHeaders, web.StaticFileHandler):
    """``/exports/<name>``: one exported file, as an attachment; nothing else on disk."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        name = Path(absolute_path).name
        if not EXPORT_NAME.match(name) or name.startswith(".") or Path(absolute_path).parent != Path(root):
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def get_content_type(self) -> str:
        return CONTENT_TYPES[Path(self.absolute_path).suffix.lstrip(".")]

    def set_extra_headers(self, path: str) -> None:
        name = Path(path).name
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("Cache-Control", "no-store")


class StartPageHandler(SecureHeaders, web.RequestHandler):
    """The list of reports: what each one gives and who it is for."""

    def initialize(self, notebooks: Path, base_url: str) -> None:
        self.notebooks, self.base_url = notebooks, base_url

    def get(self) -> None:
        reports = [{"url": url_path_join(self.base_url, "voila/render", quote(entry.path)), "title": entry.title,
                    "description": entry.description, "audience": entry.audience}
                   for entry in report_catalog(self.notebooks)]
        self.finish(TEMPLATES.get_template("start.html").render(reports=reports))


class ReportPageHandler(TornadoVoilaHandler):
    """Voilà's report page, which also sets the ``_xsrf`` cookie (so the page's shutdown request on close is
    accepted, voila#1458) and answers "busy" instead of starting a kernel past the cap."""

    def initialize(self, **kwargs: Any) -> None:
        self.max_visitor_kernels = kwargs.pop("max_visitor_kernels")
        super().initialize(**kwargs)

    async def get(self, path: str | None = None) -> Any:
        self.xsrf_token  # noqa: B018 - reading it sets the cookie
        visitors = visitor_kernels(self.kernel_manager)
        if visitors >= self.max_visitor_kernels:
            self.set_status(503)
            self.set_header("Retry-After", str(BUSY_RETRY_SECONDS))
            self.finish(TEMPLATES.get_template("busy.html").render(open_pages=visitors, retry_seconds=BUSY_RETRY_SECONDS))
            return None
        return await super().get(path)


def visitor_kernels(manager: Any) -> int:
    """Kernels serving visitors: all running kernels but the warm ones waiting in the pools."""
    pooled = sum(len(pool) for pool in getattr(manager, "_pools", {}).values())
    return max(0, len(manager.list_kernel_ids()) - pooled)


def our_handlers(app: Any, settings: Settings, notebooks: Path) -> list:
    exports = settings.reports_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    return [
        (url_path_join(app.server_url, r"/exports/(.*)"), ExportDownloadHandler, {"path": str(exports)}),
        (app.server_url, StartPageHandler, {"notebooks": notebooks, "base_url": app.base_url}),
    ]


def replace_report_handler(handlers: list, settings: Settings) -> list:
    """Voilà's handlers with its report page swapped for :class:`ReportPageHandler`, and no file listings."""
    replaced = []
    for handler in handlers:
        if any(closed in handler[0] for closed in CLOSED_PATHS):
            continue
        if len(handler) == 3 and handler[1] is TornadoVoilaHandler and handler[0].endswith("/voila/render/(.*)"):
            handler = (handler[0], ReportPageHandler, {**handler[2], "max_visitor_kernels": settings.max_visitor_kernels})
        replaced.append(handler)
    return replaced
