"""Our request handlers beside Voilà's: the start page, export downloads, and the report page's guard."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from jupyter_core.utils import ensure_async
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.ioloop import IOLoop
from tornado.log import app_log
from traitlets.config import Application
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler, read_header_from_binary_message

from ..audit import AuditEvent, audit, file_sha256
from ..catalog import AUDIENCES, report_catalog
from ..config import Settings
from ..delivery.runs import read_manifest
from ..home.tiles import home_tiles, search
from ..words import about_seconds, counted, ordinal
from .gate import Gate, address_key, safe_next
from .kernel_link import visitor_kernel_environment
from .queue import COOKIE as QUEUE_COOKIE
from .queue import REFRESH_SECONDS, Admission, VisitorQueue

EXPORT_NAME = re.compile(r"^[\w.-]+\.(xlsx|csv|txt)$", re.UNICODE)
CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8", "txt": "text/plain; charset=us-ascii"}
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
# Sent with every response, ours and Voilà's (Voilà's handlers read them from the "headers" setting).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "X-Frame-Options": "SAMEORIGIN", "Cross-Origin-Opener-Policy": "same-origin"}
# Voilà handlers that list or serve the notebook folder's files: the app shows reports, never their sources.
CLOSED_PATHS = ("/voila/api/contents", "/voila/tree", "/voila/files/")
HIDDEN_KERNEL_MESSAGES = {"stream", "error"}


class SecureHeaders:
    """Mixin for our own handlers: the same security headers as Voilà's."""

    def set_default_headers(self) -> None:
        for name, value in self.settings.get("headers", SECURITY_HEADERS).items():  # type: ignore[attr-defined]
            self.set_header(name, value)  # type: ignore[attr-defined]


class RangeDownloads:
    """Which files were lately served to whom: a download manager or a resumed download fetches one file as
    several ``Range`` requests (206), and that is one download. A full answer (200) is always audited; a part
    only when no answer of the same file (same person, path, size and modification time) was audited within
    the window."""

    window = 600.0

    def __init__(self) -> None:
        self._served: dict[tuple[str, str, int, int], float] = {}

    def first(self, key: tuple[str, str, int, int], partial: bool) -> bool:
        now = time.monotonic()
        self._served = {other: at for other, at in self._served.items() if at > now - self.window}
        seen = key in self._served
        self._served[key] = now
        return not (partial and seen)


class ExportDownloadHandler(SecureHeaders, web.StaticFileHandler):
    """``/exports/<person>/<name>``: one exported file of the person's own runs, as an attachment; nothing else on
    disk. The gate has checked the folder is the signed-in person's (or that they are an admin); each
    download is audited with the file's SHA-256, a download in parts (``Range``) once (see RangeDownloads)."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        path = Path(absolute_path)
        if (not EXPORT_NAME.match(path.name) or path.name.startswith(".") or path.parent.parent != Path(root)
                or path.parent.name.startswith(".")):
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def on_finish(self) -> None:
        if self.get_status() not in (200, 206) or self.request.method != "GET" or not getattr(self, "absolute_path", None):
            return
        person = getattr(self, "_analytics_person", None)
        path, client = Path(self.absolute_path), self.request.remote_ip or ""
        try:
            stat = path.stat()
        except OSError:
            return  # removed since it was served: there is no file to name in the audit
        served = self.settings.setdefault("analytics_range_downloads", RangeDownloads())
        if not served.first((person.name if person else "", str(path), stat.st_size, stat.st_mtime_ns),
                            partial=self.get_status() == 206):
            return
        audit_later(lambda: AuditEvent("download", file=path.name, sha256=file_sha256(path),
                                       user=person.name if person else "", client=client), self.settings)

    def get_content_type(self) -> str:
        return CONTENT_TYPES[Path(self.absolute_path).suffix.lstrip(".")]

    def set_extra_headers(self, path: str) -> None:
        name = Path(path).name
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("Cache-Control", "no-store")


class RunFileHandler(ExportDownloadHandler):
    """``/runs/<job>/<run id>/<file>``: a file a scheduled run made, for everyone its page is for (the gate has
    checked the run's manifest). The file stays where the run wrote it, in the scheduler's export folder; only a
    name the manifest lists is served, audited like any download."""

    async def get(self, job: str, run_id: str, name: str, include_body: bool = True) -> None:  # type: ignore[override]
        manifest = read_manifest(self.settings["analytics_settings"], job, run_id)
        path = manifest.file_path(name) if manifest is not None else None
        root = Path(self.root)
        if path is None or path.name != name or path.parent.parent != root:
            raise web.HTTPError(404)
        await super().get(path.relative_to(root).as_posix(), include_body)

    def head(self, job: str, run_id: str, name: str) -> Any:  # type: ignore[override]
        return self.get(job, run_id, name, include_body=False)


class RunPageHandler(SecureHeaders, web.StaticFileHandler):
    """``/runs/<job>/<run id>.html``: a scheduled run rendered as a page, the link an alert carries. The gate
    has checked the person may open the job's notebook; nothing but these pages is served."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        path = Path(absolute_path)
        if path.suffix != ".html" or path.parent.parent != Path(root):
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def get_content_type(self) -> str:
        return "text/html; charset=utf-8"

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-store")


def app_log_of_this_process() -> logging.Logger:
    """The app's own log (the one its start-up lines go to), else tornado's."""
    return Application.instance().log if Application.initialized() else app_log


def audit_later(event: Callable[[], AuditEvent], settings: dict[str, Any]) -> None:
    """Build and record an audit event off the web server's loop (hashing a file or a database write may take a while)."""
    config = settings["analytics_settings"]
    IOLoop.current().run_in_executor(None, lambda: audit(event(), config))


class StartPageHandler(SecureHeaders, web.RequestHandler):
    """The home page: the tiles of the reports the signed-in person may open, from the stored headlines (files
    only, no warehouse query), then those reports by audience; ``?q=`` finds reports by title and description."""

    def initialize(self, notebooks: Path, base_url: str) -> None:
        self.notebooks, self.base_url = notebooks, base_url

    def get(self) -> None:
        gate = self.settings["analytics_gate"]
        person = self._analytics_person  # type: ignore[attr-defined] - set by the gate
        visible = gate.visible_reports(person, report_catalog(self.notebooks))
        words = self.get_query_argument("q", "").strip()[:200]
        found = search(visible, words)
        grouped: dict[str, list[dict[str, str]]] = {}
        for entry in found:
            grouped.setdefault(entry.audience, []).append({
                "url": url_path_join(self.base_url, "voila/render", quote(entry.path)), "title": entry.title,
                "description": entry.description, "audience": entry.audience})
        self.set_header("Cache-Control", "no-store")
        self.finish(TEMPLATES.get_template("start.html").render(
            groups=[] if words else home_tiles(self.settings["analytics_settings"], visible, self.base_url),
            report_groups=sorted(grouped.items(), key=lambda item: _audience_order(item[0])), q=words,
            found=_found_words(len(found), words),
            user=person.name, sign_out=None if gate.open_local else url_path_join(self.base_url, "logout"),
            xsrf=self.xsrf_form_html()))


def _audience_order(audience: str) -> int:
    """The catalog's order (account managers first, administrators last), not the alphabet's."""
    order = list(AUDIENCES.values())
    return order.index(audience) if audience in order else len(order)


def _found_words(count: int, words: str) -> str:
    if not words:
        return ""
    return f"{counted(count, 'report')} found." if count else "No report has these words: try another word."


class SignInHandler(SecureHeaders, web.RequestHandler):
    """A plain sign-in form. Failed attempts are limited per address and per address and name (see
    FailedSignIns), never per name alone: others cannot lock a person out. The password is checked off the
    server's thread."""

    def get(self) -> None:
        self._form("", "")

    def _form(self, name: str, message: str, status: int = 200) -> None:
        gate = self.settings["analytics_gate"]
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(TEMPLATES.get_template("sign_in.html").render(
            name=name, message=message, xsrf=self.xsrf_form_html(), signed_out=self.get_query_argument("signed_out", ""),
            next=safe_next(self.get_query_argument("next", None), gate.base_url)))

    async def post(self) -> None:
        self.check_xsrf_cookie()
        gate = self.settings["analytics_gate"]
        name = self.get_body_argument("name", "").strip()[:64]
        password = self.get_body_argument("password", "")[:1024]
        client = self.request.remote_ip or ""
        address = address_key(client)
        keys = (f"address:{address}", f"address-name:{address}:{name.lower()}")
        wait = gate.failures.wait_seconds(*keys)
        if wait > 0:
            self.set_header("Retry-After", str(int(wait) + 1))
            return self._form(name, f"Too many failed sign-ins. Try again in {int(wait) // 60 + 1} minute(s).", 429)
        person = await gate.verify_password(name, password, app_log_of_this_process()) if name and password else None
        if person is None:
            gate.failures.failed(*keys)
            audit_later(lambda: AuditEvent("sign_in_refused", user=name, client=client), self.settings)
            return self._form(name, "That name and password do not match. Check them and try again.", 401)
        gate.failures.succeeded(*keys)
        gate.start_session(self, person)
        audit_later(lambda: AuditEvent("sign_in", user=person.name, client=client), self.settings)
        self.redirect(safe_next(self.get_body_argument("next", None), gate.base_url))


class SignOutHandler(SecureHeaders, web.RequestHandler):
    """Sign-out is a form post with the xsrf value (a link or an image on another site cannot sign anyone
    out); the session ends on the server too. ``GET`` shows the form and changes nothing."""

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.finish(TEMPLATES.get_template("sign_out.html").render(xsrf=self.xsrf_form_html()))

    def post(self) -> None:
        self.check_xsrf_cookie()
        gate = self.settings["analytics_gate"]
        gate.end_session(self)
        self.redirect(gate.base_url + "login?signed_out=1")


class ReportPageHandler(TornadoVoilaHandler):
    """Voilà's report page, which also sets the ``_xsrf`` cookie (so the page's shutdown request on close is
    accepted, voila#1458), puts a visitor past the cap in line (:mod:`analytics.web.queue`) instead of starting a
    kernel, and makes the kernel it hands out (warm or new) the signed-in person's own."""

    @property
    def kernel_manager(self) -> Any:
        queue, hold = self.settings["analytics_queue"], getattr(self, "_analytics_hold", "")
        return VisitorKernels(self.settings["kernel_manager"], self.settings["analytics_gate"],
                              self._analytics_person.name,  # type: ignore[attr-defined] - set by the gate
                              on_claim=lambda: queue.settled(hold))

    def initialize(self, **kwargs: Any) -> None:
        self.max_visitor_kernels = kwargs.pop("max_visitor_kernels")
        super().initialize(**kwargs)

    async def get(self, path: str | None = None) -> Any:
        self.xsrf_token  # noqa: B018 - reading it sets the cookie
        queue: VisitorQueue = self.settings["analytics_queue"]
        in_use = visitor_kernels(self.settings["kernel_manager"], self.settings["analytics_gate"])
        admission = queue.ask(self.get_cookie(QUEUE_COOKIE), in_use, self.max_visitor_kernels)
        if not admission.admitted:
            return self._wait_in_line(path or "", admission, in_use)
        if self.get_cookie(QUEUE_COOKIE):
            self.clear_cookie(QUEUE_COOKIE, path=self.request.path)
        self._analytics_hold = admission.ticket
        pools = self.settings.get("analytics_pools")
        if pools is not None and path:
            pools.visited(path.lstrip("/"))
        try:
            return await super().get(path)
        finally:
            queue.settled(admission.ticket)  # the kernel is counted by now, or the page failed

    def _wait_in_line(self, path: str, admission: Admission, in_use: int) -> None:
        self.set_cookie(QUEUE_COOKIE, admission.ticket, path=self.request.path, httponly=True, samesite="Lax")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Queue-Place", str(admission.position))  # for scripts: the same place the page says
        titles = {entry.path: entry.title for entry in report_catalog(Path(self.settings["analytics_settings"].notebooks))}
        self.finish(TEMPLATES.get_template("queue.html").render(
            title=titles.get(path.lstrip("/"), "Report"), place=ordinal(admission.position),
            wait=about_seconds(admission.wait_seconds), open_pages=counted(in_use, "open report page"),
            refresh_seconds=REFRESH_SECONDS, base_url=self.settings["analytics_gate"].base_url))


class QuietKernelWebsocketHandler(VoilaKernelWebsocketHandler):
    """The kernel's websocket without its ``stream`` and ``error`` messages: a report page shows its outputs
    from the server-side render, so these carry only what a person must not see (a widget's TraitError
    traceback with the server's paths, warnings). They go to the app's log instead."""

    def write_message(self, message: bytes | str | dict[str, Any], binary: bool = False) -> Any:
        kind = _message_type(message)
        if kind in HIDDEN_KERNEL_MESSAGES:
            self.log.info("kernel %s: %s message kept from the browser", getattr(self, "kernel_id", "?"), kind)
            return None
        return super().write_message(message, binary)


def _message_type(message: bytes | str | dict[str, Any]) -> str | None:
    """The Jupyter message type, whichever way the server serialized the message for this websocket."""
    if isinstance(message, bytes):
        header = read_header_from_binary_message(message) or {}
    elif isinstance(message, dict):
        header = message.get("header") or {}
    elif isinstance(message, str) and any(f'"msg_type": "{kind}"' in message for kind in HIDDEN_KERNEL_MESSAGES):
        header = json.loads(message).get("header") or {}  # parsed only when it may be one to hide
    else:
        return None
    return header.get("msg_type")


class VisitorKernels:
    """The kernel manager as one report request sees it: Voilà's handler picks a warm kernel or starts one
    inside its page generator, and only here is that kernel's id known with the request's person, so the gate
    learns the owner here. A new kernel's environment loses the app's secrets on the way."""

    def __init__(self, manager: Any, gate: Gate, owner: str, on_claim: Callable[[], None] = lambda: None) -> None:
        self._manager, self._gate, self._owner, self._on_claim = manager, gate, owner, on_claim

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    async def get_rendered_notebook(self, *args: Any, **kwargs: Any) -> tuple[Any, list[str], str]:
        task, rendered, kernel_id = await self._manager.get_rendered_notebook(*args, **kwargs)
        self._gate.claim_kernel(kernel_id, self._owner)
        self._on_claim()
        return task, rendered, kernel_id

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        if kwargs.get("env") is not None:
            kwargs["env"] = visitor_kernel_environment(kwargs["env"])
        kernel_id = await ensure_async(self._manager.start_kernel(*args, **kwargs))
        self._gate.claim_kernel(kernel_id, self._owner)
        self._on_claim()
        return kernel_id


def visitor_kernels(manager: Any, gate: Gate) -> int:
    """Kernels serving visitors: the running kernels a page has claimed (warm ones waiting in the pools are not)."""
    return len(set(manager.list_kernel_ids()) & set(gate.kernel_owners))


def our_handlers(app: Any, settings: Settings, notebooks: Path) -> list:
    exports, runs = settings.reports_dir / "exports", settings.reports_dir / "runs"
    exports.mkdir(parents=True, exist_ok=True)
    runs.mkdir(parents=True, exist_ok=True)
    return [
        (url_path_join(app.server_url, r"/exports/(.*)"), ExportDownloadHandler, {"path": str(exports)}),
        (url_path_join(app.server_url, r"/runs/([^/]+)/([0-9a-f]{8,32})/([^/]+)"), RunFileHandler,
         {"path": str(exports)}),
        (url_path_join(app.server_url, r"/runs/(.*)"), RunPageHandler, {"path": str(runs)}),
        (url_path_join(app.server_url, "/login"), SignInHandler),
        (url_path_join(app.server_url, "/logout"), SignOutHandler),
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
        if handler[1] is VoilaKernelWebsocketHandler:
            handler = (handler[0], QuietKernelWebsocketHandler, *handler[2:])
        replaced.append(handler)
    return replaced
