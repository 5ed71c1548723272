"""The app's front door: which host names it answers, who is asking, and what they may open.

Every handler the app serves (ours and Voilà's, pages, kernels, websockets, static files) is wrapped
by :class:`Guard`, whose ``prepare`` runs before the handler's own:

1. a ``Host`` that is not one of ours is refused (a DNS-rebinding page cannot read a local server);
   a path with a ``.`` or ``..`` segment or a control character, or under ``exports/`` or ``runs/`` but not
   exactly one file's address (a trailing ``/``, ``//``, ``x/../``), answers 404: the checks below are made
   on the one spelling each file has; a ``template`` or ``theme`` argument other than the app's own answers
   400 (Voilà loads files by these names, and a new kernel starts for a theme);
2. the person is identified, in this order: a trusted proxy's user header (only from the configured
   proxy addresses), the shared token (``Authorization: token ...`` or ``?token=``), the session cookie
   set by the sign-in page; with nothing configured and the app on loopback, the local user is an admin;
3. a page asked without a sign-in (the start page, a report, a scheduled run's page a message links to) goes to the
   sign-in page, which comes back to it; anything else answers 401;
4. a report page answers 403 unless the person's groups may open the report; a kernel (its API, websockets,
   shutdown) answers 403 to anyone but the person whose page it serves, admins too; a warm kernel's request
   websocket (``voila/query``) opens only for the kernel's proof (:mod:`analytics.web.kernel_link`); a download
   answers 403 unless the file is in the person's own folder (or an admin's); a scheduled run's page and files
   answer 403 unless the run's manifest lets the person in (:mod:`analytics.delivery.runs`);
5. the signed-in name and the client address go to Voilà as request headers the app sets itself (any
   the browser sent are dropped), and from there into the report's kernel.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import ipaddress
import json
import os
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from tornado.httputil import split_host_and_port

from ..access.identity import (
    ADMIN_GROUP,
    CLIENT_HEADER,
    TOKEN_USER,
    USER_ENV,
    USER_HEADER,
    Person,
    built_in,
    os_user,
    user_folder,
)
from ..access.rules import may_open
from ..access.serving import is_loopback, sign_in_configured
from ..access.sessions import EndedSessions
from ..access.users import UsersFile
from ..config import Settings
from .kernel_link import PROOF_HEADER, proof_valid, seal_kernel_environment

SESSION_COOKIE = "analytics_session"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_FAILURES = 5  # failed sign-ins per address and name, or wrong tokens per address, within the window, then a pause
MAX_ADDRESS_FAILURES = 20  # failed sign-ins per address, whatever the names (an office behind one address)
FAILURE_WINDOW_SECONDS = 300.0
PASSWORD_THREADS = 2  # Argon2 runs here, never on the web server's one thread; a small pool bounds the CPU it takes
_KERNEL = r"(?P<kernel>[0-9a-f-]{36})"
_ROUTES = [  # (kind, pattern of the path after the base URL)
    ("public", re.compile(r"^(login|logout)$")),
    ("kernel_query", re.compile(r"^voila/query/" + _KERNEL + "$")),
    ("start", re.compile(r"^$")),
    ("report", re.compile(r"^voila/render/(?P<notebook>.+)$")),
    ("kernel", re.compile(r"^(api/kernels|voila/api/shutdown|voila/execution)/" + _KERNEL + r"(/.*)?$")),
    ("download", re.compile(r"^exports/(?P<folder>[A-Za-z0-9_][A-Za-z0-9._@-]{0,79})/"
                            r"(?P<file>[\w-][\w.-]{0,199}\.(?:xlsx|csv|txt))$")),
    ("run", re.compile(r"^runs/(?P<job>[A-Za-z0-9_-]{1,64})/(?P<run>[0-9a-f]{8,32})\.html$")),
    ("run_file", re.compile(r"^runs/(?P<job>[A-Za-z0-9_-]{1,64})/(?P<run>[0-9a-f]{8,32})/"
                            r"(?P<file>[\w-][\w.-]{0,199}\.(?:xlsx|csv|txt))$")),
]
# Folders served as files: a path under them is exactly one of the shapes above, or there is nothing there (404).
_FILE_FOLDERS = ("exports", "runs")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Query arguments Voilà reads as names of files to load: only the values the app itself serves.
ALLOWED_ARGUMENTS = {"template": frozenset({"lab"}), "theme": frozenset({"light", "dark"})}


class NotAllowed(Exception):
    """The person may not see this; the message says why in plain words."""


class NotFound(Exception):
    """There is no such report."""


def cookie_secret(settings: Settings) -> bytes:
    """The key signing session cookies: kept in ``reports/.cookie_secret`` (owner-only) so sign-ins survive restarts."""
    path = settings.reports_dir / ".cookie_secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as out:
        out.write(secrets.token_bytes(32))
    return path.read_bytes()


@dataclass
class FailedSignIns:
    """Failed sign-ins per key in a sliding window: past the key's limit, sign-in from there pauses. Keys are
    addresses, or an address with a name, never a name alone: then nobody can lock another person out."""

    limit: int = MAX_FAILURES
    window: float = FAILURE_WINDOW_SECONDS
    limits: dict[str, int] = field(default_factory=dict)  # a key prefix ("address:") with its own limit
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _limit(self, key: str) -> int:
        return next((limit for prefix, limit in self.limits.items() if key.startswith(prefix)), self.limit)

    def wait_seconds(self, *keys: str) -> float:
        now = time.monotonic()
        waits = []
        for key in keys:
            recent = self._failures.get(key, deque())
            while recent and recent[0] <= now - self.window:
                recent.popleft()
            if len(recent) >= self._limit(key):
                waits.append(recent[-self._limit(key)] + self.window - now)
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self._limit(key))).append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


class Gate:
    """Host names, identification and permissions, for one app."""

    def __init__(self, settings: Settings, base_url: str, ip: str, kernels: Any = None,
                 kernel_secret: str | None = None) -> None:
        """Made once per app, before its kernels start: without a ``kernel_secret`` from the caller, the gate
        seals the environment kernels inherit itself (see :mod:`analytics.web.kernel_link`)."""
        self.settings, self.base_url = settings, "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
        self.users = UsersFile(settings.users_file)
        self.open_local = not sign_in_configured(settings) and is_loopback(ip)
        self.hosts = allowed_hosts(settings, ip)
        self.proxies = [ipaddress.ip_network(item.strip(), strict=False)
                        for item in settings.trusted_proxies.split(",") if item.strip()]
        self.failures = FailedSignIns(limits={"address:": MAX_ADDRESS_FAILURES})
        self.password_checks = ThreadPoolExecutor(PASSWORD_THREADS, thread_name_prefix="analytics-password")
        self.ended = EndedSessions(settings.reports_dir / ".ended_sessions.json", settings.session_hours * 3600)
        self.kernels = kernels  # the kernel manager, to tell which report a kernel runs
        self.kernel_reports: dict[str, str] = {}  # kernels started for a visitor: id -> report path
        self.kernel_owners: dict[str, str] = {}  # kernels handed to a visitor: id -> the person's name
        self.kernel_secret = kernel_secret or seal_kernel_environment(os.environ)

    # -- host names -------------------------------------------------------------------------------
    def host_allowed(self, host_header: str) -> bool:
        host, _ = split_host_and_port(host_header.lower())
        return host.strip("[]") in self.hosts

    # -- who is asking ------------------------------------------------------------------------------
    def identify(self, handler: web.RequestHandler) -> Person | None:
        request = handler.request
        if self.proxies and self._from_proxy(request.remote_ip or ""):
            name = request.headers.get(self.settings.proxy_user_header, "").strip()
            if name and built_in(name):  # the token's admin, the app's account, the scheduler: never a proxy's person
                return None
            if name:
                return self._proxied(name, request.headers.get(self.settings.proxy_groups_header))
        token = self._token(handler)
        if token is not None:
            if self.settings.serve_token and hmac.compare_digest(token.encode(), self.settings.serve_token.encode()):
                return Person(TOKEN_USER, frozenset({ADMIN_GROUP}))
            self.failures.failed(token_key(handler))
            return None
        person = self._session(handler)
        if person is not None:
            return person
        if self.open_local:
            return Person(os_user(), frozenset({ADMIN_GROUP}))
        return None

    def _from_proxy(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.proxies)

    def _proxied(self, name: str, groups_header: str | None) -> Person:
        if groups_header is not None:
            return Person(name, frozenset(group.strip() for group in groups_header.split(",") if group.strip()))
        known = self.users.person(name)
        return known or Person(name)

    @staticmethod
    def _token(handler: web.RequestHandler) -> str | None:
        header = handler.request.headers.get("Authorization", "")
        if header.lower().startswith("token "):
            return header[6:].strip()
        return handler.get_query_argument("token", None)

    def _session(self, handler: web.RequestHandler) -> Person | None:
        raw = handler.get_signed_cookie(SESSION_COOKIE, max_age_days=self.settings.session_hours / 24)
        if not raw:
            return None
        try:
            session = json.loads(raw)
            name, stamp, session_id = session["user"], session["stamp"], session["sid"]
        except (ValueError, KeyError, TypeError):
            return None  # unreadable, or made before sessions had ids (they could not be ended)
        if session_id in self.ended or session.get("at", 0) < self.ended.since:
            return None
        if name == TOKEN_USER and session.get("kind") == "token":
            if self.settings.serve_token and hmac.compare_digest(stamp, _token_stamp(self.settings.serve_token)):
                return Person(TOKEN_USER, frozenset({ADMIN_GROUP}))
            return None
        person = self.users.person(name)
        if person is None or not hmac.compare_digest(stamp, self.users.stamp(name)):
            return None  # removed, or the password changed since this sign-in
        return person

    def start_session(self, handler: web.RequestHandler, person: Person) -> None:
        if person.name == TOKEN_USER:
            session = {"user": TOKEN_USER, "stamp": _token_stamp(self.settings.serve_token), "kind": "token"}
        else:
            session = {"user": person.name, "stamp": self.users.stamp(person.name), "kind": "password"}
        session.update(sid=secrets.token_urlsafe(18), at=int(time.time()))
        handler.set_signed_cookie(SESSION_COOKIE, json.dumps(session), expires_days=self.settings.session_hours / 24,
                                  httponly=True, samesite="Lax", path=self.base_url,
                                  secure=handler.request.protocol == "https")

    def end_session(self, handler: web.RequestHandler) -> None:
        """Sign out: the session ends on the server too, so a copy of the cookie stops working."""
        raw = handler.get_signed_cookie(SESSION_COOKIE, max_age_days=self.settings.session_hours / 24)
        try:
            session_id = json.loads(raw)["sid"] if raw else None
        except (ValueError, KeyError, TypeError):
            session_id = None
        if session_id:
            self.ended.end(str(session_id))
        handler.clear_cookie(SESSION_COOKIE, path=self.base_url)

    def verify_password(self, name: str, password: str, log: Any) -> Awaitable[Person | None]:
        """Check a password on the small pool, never on the server's one thread: an Argon2 check takes long
        enough that a few wrong sign-ins at once would stall every page."""
        def check() -> Person | None:
            log.info("sign-in of %r checked off the web server's thread, on %s", name, threading.current_thread().name)
            return self.users.verify(name, password)
        return asyncio.get_running_loop().run_in_executor(self.password_checks, check)

    def token_wait_seconds(self, handler: web.RequestHandler) -> float:
        """How long this address must wait after too many wrong tokens (0 when the request carries none)."""
        if self._token(handler) is None:
            return 0.0
        return self.failures.wait_seconds(token_key(handler))

    # -- what they may open -------------------------------------------------------------------------
    def route(self, path: str) -> tuple[str, dict[str, str]]:
        """What the path asks for, decided on the decoded path; ``missing`` for a spelling that only a probe
        writes (a ``.`` or ``..`` segment, a control character, anything under ``exports/`` or ``runs/`` that is
        not exactly one file's address), so another spelling of a checked address is never let through as "other"."""
        decoded = unquote(path)
        relative = decoded[len(self.base_url):] if decoded.startswith(self.base_url) else decoded
        if _CONTROL.search(relative) or any(segment in (".", "..") for segment in relative.split("/")):
            return "missing", {}
        for kind, pattern in _ROUTES:
            found = pattern.match(relative)
            if found:
                return kind, {key: value for key, value in found.groupdict().items() if value is not None}
        if relative.lstrip("/").split("/", 1)[0] in _FILE_FOLDERS:
            return "missing", {}
        return "other", {}

    def check(self, person: Person, kind: str, target: dict[str, str]) -> None:
        """Raise :class:`NotAllowed` unless ``person`` may have this (:class:`NotFound` for a report that is not one)."""
        if kind == "report" and not self._is_report(target["notebook"]):
            raise NotFound()
        if kind == "kernel" and self.kernel_owners.get(target["kernel"]) != person.name:  # admins included
            raise NotAllowed("This report page was opened by someone else. Open the report yourself to use it.")
        if person.is_admin:
            return
        if kind == "report" and not may_open(person, self.settings.notebooks, target["notebook"]):
            raise NotAllowed("This report is not shared with you. Ask an administrator to add you to its group.")
        if kind == "kernel":
            report = self.kernel_report(target["kernel"])
            if report is None or not may_open(person, self.settings.notebooks, report):
                raise NotAllowed("This report is not shared with you.")
        if kind == "download" and target["folder"] != user_folder(person.name):
            raise NotAllowed("This file belongs to someone else's run: run the report yourself to get it.")
        if kind in ("run", "run_file") and not self._may_see_run(person, target["job"], target["run"]):
            raise NotAllowed("This scheduled report was not sent to you, and its report is not shared with you. "
                             "Ask an administrator to add you to the schedule's recipients or the report's group.")

    def _may_see_run(self, person: Person, job: str, run_id: str) -> bool:
        """A scheduled run's page and files: for whoever its manifest names (the report's groups, the people and
        groups it was delivered to); a run from before manifests, for those who may open the job's notebook."""
        from ..delivery.runs import read_manifest  # noqa: PLC0415 - only for run pages

        manifest = read_manifest(self.settings, job, run_id)
        if manifest is not None:
            return manifest.may_open(person, self.settings.notebooks)
        return self._may_see_job(person, job)

    def _may_see_job(self, person: Person, job: str) -> bool:
        """A scheduled run's page is for those who may open the job's notebook."""
        from ..errors import ConfigError  # noqa: PLC0415
        from ..scheduler import load_schedules  # noqa: PLC0415 - only for run pages

        try:
            schedules = {schedule.job: schedule for schedule in load_schedules(self.settings.schedules,
                                                                               self.settings.notebooks,
                                                                               self.settings.users_file)}
        except ConfigError:
            return False
        schedule = schedules.get(job)
        if schedule is None:
            return False
        notebook = schedule.notebook.resolve().relative_to(self.settings.notebooks.resolve()).as_posix()
        return may_open(person, self.settings.notebooks, notebook)

    def _is_report(self, relative: str) -> bool:
        root = self.settings.notebooks.resolve()
        path = (root / relative).resolve()
        return path.suffix == ".ipynb" and path.is_relative_to(root) and path.is_file() and \
            ".ipynb_checkpoints" not in path.parts

    def kernel_report(self, kernel_id: str) -> str | None:
        """The report a kernel runs: recorded when a visitor's kernel started, or its warm pool's report."""
        if kernel_id in self.kernel_reports:
            return self.kernel_reports[kernel_id]
        find = getattr(self.kernels, "_get_notebook_from_kernel", None)
        return find(kernel_id) if find is not None else None

    def record_kernel(self, kernel_id: str, environment: dict[str, str]) -> None:
        """Note the report of a kernel Voilà started for a visitor (its ``SCRIPT_NAME`` is the page's path), and
        whose it is (the name the gate put in the request)."""
        kind, target = self.route(environment.get("SCRIPT_NAME", ""))
        if kind == "report":
            self.kernel_reports[kernel_id] = target["notebook"]
        if environment.get(USER_ENV):
            self.claim_kernel(kernel_id, environment[USER_ENV])

    def claim_kernel(self, kernel_id: str, name: str) -> None:
        """The kernel now serves this person's page: only they may use it (its websocket, Run, shutdown), not a
        colleague of the same group who learns its id, nor an admin, whose clicks would land in the owner's
        folder and audit as the owner's."""
        live = set(self.kernels.list_kernel_ids()) if self.kernels is not None else set()
        for known in (self.kernel_owners, self.kernel_reports):
            for gone in [other for other in known if live and other not in live]:
                del known[gone]
        self.kernel_owners[kernel_id] = name

    def visible_reports(self, person: Person, entries: list[Any]) -> list[Any]:
        return [entry for entry in entries if person.is_admin or may_open(person, self.settings.notebooks, entry.path)]


def address_key(address: str) -> str:
    """An address as sign-in limits count it: an IPv6 client holds a whole /64, so it counts as one."""
    try:
        peer = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(peer, ipaddress.IPv6Address):
        if peer.ipv4_mapped is not None:
            return str(peer.ipv4_mapped)
        return str(ipaddress.ip_network(f"{peer}/64", strict=False))
    return str(peer)


def token_key(handler: web.RequestHandler) -> str:
    return f"token-address:{address_key(handler.request.remote_ip or '')}"


def _token_stamp(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def allowed_hosts(settings: Settings, ip: str) -> frozenset[str]:
    """Loopback names, this machine's names and addresses, the address served on, and ``ANALYTICS_SERVE_HOSTS``."""
    names = set(LOOPBACK_NAMES)
    for name in (socket.gethostname(), socket.getfqdn()):
        names.add(name.lower())
        try:
            names.update(info[4][0] for info in socket.getaddrinfo(name, None))
        except OSError:
            pass
    if ip and ip not in ("0.0.0.0", "::", ""):
        names.add(ip.lower().strip("[]"))
    names.update(item.strip().lower() for item in settings.serve_hosts.split(",") if item.strip())
    return frozenset(names)


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;color:#222}}
a{{color:#1565c0}}</style></head><body><h1>{title}</h1><p>{message}</p>{extra}</body></html>"""


def plain_page(title: str, message: str, extra: str = "") -> str:
    return PAGE.format(title=html.escape(title), message=html.escape(message), extra=extra)


class Guard:
    """Mixin put in front of every handler's class: host check, sign-in, permissions (see the module doc)."""

    async def prepare(self) -> Any:
        handler: Any = self
        gate: Gate = handler.settings["analytics_gate"]
        request = handler.request
        for header in (USER_HEADER, CLIENT_HEADER):  # only the app sets these
            if header in request.headers:
                del request.headers[header]
        if not gate.host_allowed(request.host or ""):
            return self._refuse(403, "Unknown address", "This server does not answer to that address.")
        kind, target = gate.route(request.path)
        if kind == "missing":
            return self._refuse(404, "Nothing here", "There is nothing at this address. Check the link you followed.")
        for name, allowed in ALLOWED_ARGUMENTS.items():
            if any(value.decode("utf-8", "replace") not in allowed for value in request.query_arguments.get(name, [])):
                return self._refuse(400, "Unknown setting", f"The link asks for a {name} this app does not have "
                                    f"({', '.join(sorted(allowed))}). Remove it from the address and try again.")
        if kind == "kernel_query":  # a warm kernel asking for its visitor's request: only the app's own kernels
            if not is_loopback(request.remote_ip or "") or \
                    not proof_valid(gate.kernel_secret, target["kernel"], request.headers.get(PROOF_HEADER)):
                return self._refuse(403, "Not allowed", "This address is for the app's own kernels.")
        elif kind != "public":
            wait = gate.token_wait_seconds(handler)
            if wait > 0:
                return self._refuse(429, "Too many wrong tokens", "Too many wrong tokens came from your address. "
                                    f"Try again in {int(wait) // 60 + 1} minute(s).", retry_after=int(wait) + 1)
            person = gate.identify(handler)
            if person is None:
                return self._sign_in_first(gate, kind)
            try:
                gate.check(person, kind, target)
            except NotAllowed as refused:
                return self._refuse(403, "Not shared with you", str(refused))
            except NotFound:
                return self._refuse(404, "No such report", "There is no report at this address.")
            if handler.get_query_argument("token", None) is not None:  # a link with ?token= signs the browser in
                gate.start_session(handler, person)
            handler._analytics_person = person
            request.headers[USER_HEADER] = person.name
            request.headers[CLIENT_HEADER] = request.remote_ip or ""
        result = super().prepare()  # type: ignore[misc]
        if isinstance(result, Awaitable):
            return await result
        return result

    def _sign_in_first(self, gate: Gate, kind: str) -> None:
        handler: Any = self
        wants_page = handler.request.method in ("GET", "HEAD") and kind in ("start", "report", "run", "other") and \
            handler.request.headers.get("Upgrade", "").lower() != "websocket"
        if wants_page:
            handler.redirect(gate.base_url + "login?next=" + quote(handler.request.uri or gate.base_url, safe=""))
            return
        self._refuse(401, "Sign in first", "Sign in to use this.")

    def _refuse(self, status: int, title: str, message: str, retry_after: int | None = None) -> None:
        handler: Any = self
        handler.clear()
        handler.set_status(status)
        if retry_after is not None:
            handler.set_header("Retry-After", str(retry_after))
        for name, value in handler.settings.get("headers", {}).items():
            handler.set_header(name, value)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.set_header("Cache-Control", "no-store")
        handler.finish(plain_page(title, message, f"<p><a href='{html.escape(handler.settings['analytics_gate'].base_url)}'>"
                                                   "Back to the reports</a></p>"))


def guarded(handlers: list) -> list:
    """Every handler class, with :class:`Guard` in front of it."""
    wrapped = []
    for spec in handlers:
        pattern, cls, *rest = spec
        guarded_cls = type(f"Guarded{cls.__name__}", (Guard, cls), {})
        wrapped.append((pattern, guarded_cls, *rest))
    return wrapped


class AnalyticsIdentityProvider(IdentityProvider):
    """Tells Jupyter's handlers who the :class:`Guard` let in (so their own checks agree with ours)."""

    def get_user(self, handler: web.RequestHandler) -> User | None:
        person = getattr(handler, "_analytics_person", None)
        return User(username=person.name) if person is not None else None

    def get_handlers(self) -> list:
        return []  # our sign-in and sign-out pages are added by the app

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True


def safe_next(target: str | None, base_url: str) -> str:
    """Where to go after signing in: a path of this app only, never another site. Browsers read ``\\`` as ``/``
    (``/\\evil.example`` is ``//evil.example``), skip tabs and newlines, and some decode before they look, so
    anything with a backslash or a control character (in the link or decoded), a space, or starting ``//``, is
    refused: the links the app makes itself have none of these."""
    if not target or " " in target:
        return base_url
    for spelling in (target, unquote(target), unquote(unquote(target))):
        parts = urlsplit(spelling)
        if ("\\" in spelling or _CONTROL.search(spelling) or parts.scheme or parts.netloc or spelling.startswith("//")
                or not spelling.startswith(base_url)):
            return base_url
    return target
