"""The addresses a message carries: the app's, never a file on the server.

``ANALYTICS_PUBLIC_URL`` when it is set (the address people reach through a proxy); else the address
``analytics serve`` last started on, which it records in ``reports/.serve_address``; else the address
``make run`` serves on. A scheduled run's page is ``runs/<job>/<run id>.html`` there, its files
``runs/<job>/<run id>/<file>``.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from ..config import Settings

SERVE_ADDRESS_FILE = ".serve_address"
DEFAULT_ADDRESS = "http://127.0.0.1:8866/"  # `make run`'s
WILDCARD_IPS = ("0.0.0.0", "::", "")


def serve_address_file(settings: Settings) -> Path:
    return settings.reports_dir / SERVE_ADDRESS_FILE


def record_serve_address(settings: Settings, ip: str, port: int, base_url: str = "/") -> str:
    """Remember where the app serves, so a scheduler in another process links there. An app on every address
    (``0.0.0.0``) is named by this machine's name, which people's browsers can resolve where a wildcard cannot."""
    host = machine_name() if ip in WILDCARD_IPS else ip
    host = f"[{host}]" if ":" in host else host
    address = f"http://{host}:{port}/{base_url.strip('/')}"
    address = address.rstrip("/") + "/"
    path = serve_address_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(address + "\n", encoding="utf-8")
    return address


def machine_name() -> str:
    """This machine's full name when it has one (``reports.example.com``), else its host name; never
    ``localhost``, which names each reader's own computer."""
    full = socket.getfqdn()
    return full if "." in full and not full.startswith("localhost") else socket.gethostname()


def app_url(settings: Settings) -> str:
    """The app's address, ending in ``/``: the public URL, else where ``serve`` runs, else ``make run``'s."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/"
    try:
        recorded = serve_address_file(settings).read_text(encoding="utf-8").strip()
    except OSError:
        recorded = ""
    return recorded if recorded.startswith(("http://", "https://")) else DEFAULT_ADDRESS


def run_page_url(settings: Settings, job: str, run_id: str) -> str:
    """The page of one scheduled run, what an alert and a delivered message link to."""
    return f"{app_url(settings)}runs/{quote(job)}/{quote(run_id)}.html"


def run_files_path(run_id: str) -> str:
    """The run's files relative to its page (``runs/<job>/<run id>.html``): the page's buttons work under any
    address the app is reached by."""
    return f"{quote(run_id)}/"


def absolute(settings: Settings, path: str) -> str:
    """A path of the app (``/voila/render/…?partner_id=3``) as a link someone else can follow."""
    return app_url(settings) + path.lstrip("/")


def run_page_links(settings: Settings, run_id: str, notebook: Path) -> dict[str, str]:
    """``outcome_html``'s links for a scheduled run, relative to the run's page (``runs/<job>/<run id>.html``):
    its files as buttons, and the report's form filled with the run's values."""
    try:
        relative = notebook.resolve().relative_to(settings.notebooks.resolve()).as_posix()
    except ValueError:  # a notebook outside the reports folder has no form in the app
        return {"downloads_url": run_files_path(run_id)}
    return {"downloads_url": run_files_path(run_id), "share_url": f"../../voila/render/{quote(relative)}"}


def form_link(page_url: str, values: Mapping[str, Any]) -> str:
    """The form's address filled with ``values`` (as the page's "Link to this form"): days as 2026-09-01, lists
    as repeated names; empty values left out."""
    query = urlencode({name: value.isoformat() if isinstance(value, dt.date) else value
                       for name, value in values.items() if value not in (None, "")}, doseq=True)
    return f"{page_url}?{query}" if query else page_url
