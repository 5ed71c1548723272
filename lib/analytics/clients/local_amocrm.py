"""A local amoCRM account (contracts §3): entity lists in pages, OAuth refresh, and the account's ways to refuse.

Part of the product, not only of the tests: the demo app (`make run`, ``ANALYTICS_AMOCRM_URL=demo``) and
``analytics demo-data`` serve the demo account (:mod:`analytics.clients.demo_amocrm`) with it, and the tests use it
as their amoCRM (re-exported by ``analytics.testing.fakes.amocrm``), so both follow the same contract.

* ``GET /api/v4/leads|contacts|companies|users`` with ``page`` and ``limit`` (at most 250): ``_embedded`` and
  ``_links.next`` while more follow; **204** with no body for a page past the end. ``filter[updated_at][from]``
  and ``order[updated_at]=asc`` as the delta loads send them. ``GET /api/v4/leads/pipelines``: pipelines with
  their statuses, no pages. A lead's ``_embedded.contacts`` (with ``is_main``) and ``_embedded.loss_reason`` are
  served only when ``with`` asks for them, as amoCRM does; ``_embedded.companies`` and ``tags`` always.
* ``Authorization: Bearer <token>``: a wrong token is 401. ``POST /oauth2/access_token`` with the current
  refresh token returns a new pair; refresh tokens are single-use, as amoCRM's are.
* Trouble on demand: ``fail(*answers)`` queues answers for the next requests: ``"429"`` (with ``Retry-After: 1``,
  a body that is not JSON), ``"500"``, ``"401"`` (the access token expires: the next call needs a refresh), and
  ``"403"``, after which the account is **blocked**: every request is 403 with nginx's HTML page, as amoCRM's
  real block is. ``change(entity, ids)`` touches entities between pages (their ``updated_at`` moves on).

``delete(ids)`` moves leads to the trash, listed with ``with=only_deleted`` in amoCRM's reduced model.
``stall_after(entity, n)`` makes requests for ``entity`` after the first ``n`` wait until ``release()`` (a test
kills the loader while it waits); ``ignore_filters`` answers as an account without the filter option does.

``show(entities, deleted)`` replaces every list at once (the demo account moving on in time).

``requests`` holds (arrival time, path with query, status) of every request, so a test can count requests per
second, or after the block.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .local_server import reply, start, stop

ENTITIES = ("leads", "contacts", "companies", "users")
BLOCK_PAGE = (b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1>"
              b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
START = 1_760_000_000  # entities' timestamps (Unix seconds) count up from here


@dataclass
class FakeAmoCRM:
    entities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pipelines: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[float, str, int]] = field(default_factory=list)
    access_token: str = "fake-access-token"
    refresh_token: str = "fake-refresh-token"
    deleted: list[dict[str, Any]] = field(default_factory=list)
    blocked: bool = False
    ignore_filters: bool = False
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._refreshes = 0
        self._stall: tuple[str, int] | None = None
        self._released = threading.Event()
        self._served: dict[str, int] = {}
        self._waiting = 0
        for name in ENTITIES:
            self.entities.setdefault(name, [])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        """The environment of a long-lived token for this account."""
        return {"ANALYTICS_AMOCRM_URL": self.url, "ANALYTICS_AMOCRM_TOKEN": self.access_token}

    def oauth_settings(self) -> dict[str, str]:
        return {"ANALYTICS_AMOCRM_URL": self.url, "ANALYTICS_AMOCRM_TOKEN": "expired-token",
                "ANALYTICS_AMOCRM_CLIENT_ID": "client", "ANALYTICS_AMOCRM_CLIENT_SECRET": "secret",
                "ANALYTICS_AMOCRM_REFRESH_TOKEN": self.refresh_token,
                "ANALYTICS_AMOCRM_REDIRECT_URI": "https://example.com/amocrm"}

    def add_leads(self, count: int, *, pipeline_id: int = 1, status_id: int = 142) -> None:
        with self._lock:
            first = len(self.entities["leads"]) + 1
            self.entities["leads"] += [{"id": first + i, "name": f"Сделка {first + i}", "price": 1000 * (i % 7),
                                        "status_id": status_id, "pipeline_id": pipeline_id, "responsible_user_id": 1,
                                        "created_at": START + first + i, "updated_at": START + first + i,
                                        "is_deleted": False, "custom_fields_values": None}
                                       for i in range(count)]

    def change(self, entity: str, ids: list[int]) -> None:
        """Entities edited now: their ``updated_at`` moves past every other."""
        with self._lock:
            latest = max((item["updated_at"] for item in self.entities[entity]), default=START)
            for offset, item in enumerate(item for item in self.entities[entity] if item["id"] in set(ids)):
                item["updated_at"] = latest + 1 + offset
                item["name"] = f"{item['name']} (edited)"

    def delete(self, ids: list[int]) -> None:
        """Leads moved to the trash now: gone from the list, in ``with=only_deleted`` as a reduced model."""
        with self._lock:
            latest = max((item["updated_at"] for item in self.entities["leads"] + self.deleted), default=START)
            gone = [item for item in self.entities["leads"] if item["id"] in set(ids)]
            self.entities["leads"] = [item for item in self.entities["leads"] if item["id"] not in set(ids)]
            self.deleted += [{"id": item["id"], "updated_at": latest + 1 + offset, "updated_by": 1, "is_deleted": True}
                             for offset, item in enumerate(gone)]

    def show(self, entities: Mapping[str, list[dict[str, Any]]], deleted: list[dict[str, Any]]) -> None:
        """Serve these lists from now on, all at once: no request sees half of one moment and half of another."""
        with self._lock:
            self.entities = {name: list(entities.get(name, [])) for name in ENTITIES}
            self.deleted = list(deleted)

    def stall_after(self, entity: str, served: int) -> None:
        """Requests for ``entity`` after the first ``served`` wait until :meth:`release`."""
        self._stall, self._served[entity] = (entity, served), 0
        self._released.clear()

    def waiting(self) -> int:
        """Requests held by :meth:`stall_after` now."""
        return self._waiting

    def release(self) -> None:
        self._stall = None
        self._released.set()

    def fail(self, *answers: str) -> None:
        """The next requests get these answers ("429", "500", "401", "403"), one each, before normal service."""
        with self._lock:
            self._failures.extend(answers)

    def after(self, status: int) -> list[tuple[float, str, int]]:
        """The requests that came after the first one answered ``status``."""
        statuses = [answer for _, _, answer in self.requests]
        return self.requests[statuses.index(status) + 1:] if status in statuses else []

    def most_in_one_second(self) -> int:
        """The most requests that arrived within any one second."""
        times = sorted(moment for moment, _, _ in self.requests)
        most, first = 0, 0
        for last, moment in enumerate(times):
            while moment - times[first] >= 1.0:
                first += 1
            most = max(most, last - first + 1)
        return most

    def __enter__(self) -> FakeAmoCRM:
        self._server = start(self._answer, methods=("GET", "POST"), port=self.port)
        self.port = self._server.server_address[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop(self._server)
        self._server = None

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        arrived = time.time()
        status, body, headers = self._respond(handler)
        with self._lock:
            self.requests.append((arrived, handler.path, status))
        reply(handler, status, body, headers)

    def _respond(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            if self.blocked:
                return 403, BLOCK_PAGE, {"Content-Type": "text/html"}
            failure = self._failures.pop(0) if self._failures else ""
            if failure == "403":
                self.blocked = True
                return 403, BLOCK_PAGE, {"Content-Type": "text/html"}
            if failure == "429":
                return 429, b"Too Many Requests", {"Content-Type": "text/plain", "Retry-After": "1"}
            if failure == "500":
                return 500, _problem(500, "Internal Server Error"), {"Content-Type": "application/problem+json"}
            if failure == "401":
                self.access_token = f"expired-{time.monotonic_ns()}"  # whatever the client holds is no good now
        parts = urlsplit(handler.path)
        if handler.command == "POST" and parts.path == "/oauth2/access_token":
            return self._refresh(handler)
        if handler.headers.get("Authorization") != f"Bearer {self.access_token}":
            return 401, _problem(401, "Unauthorized"), {"Content-Type": "application/problem+json"}
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/api/v4/leads/pipelines":
            return 200, _json({"_total_items": len(self.pipelines), "_embedded": {"pipelines": self.pipelines}}), _HAL
        entity = parts.path.removeprefix("/api/v4/")
        if entity not in ENTITIES:
            return 404, _problem(404, "Not Found"), {"Content-Type": "application/problem+json"}
        if self._stall and self._stall[0] == entity:
            with self._lock:
                self._served[entity] = self._served.get(entity, 0) + 1
                waits = self._served[entity] > self._stall[1]
            if waits:
                self._waiting += 1
                self._released.wait(120)
                self._waiting -= 1
        return self._page(entity, query)

    def _page(self, entity: str, query: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        page, limit = int(query.get("page", "1")), min(int(query.get("limit", "50")), 250)
        with self._lock:
            trash = entity == "leads" and "only_deleted" in query.get("with", "")
            items = list(self.deleted if trash else self.entities[entity])
        since = query.get("filter[updated_at][from]")
        if since is not None and not self.ignore_filters:
            items = [item for item in items if item["updated_at"] >= int(since)]
        if query.get("order[updated_at]") == "asc":
            items.sort(key=lambda item: (item["updated_at"], item["id"]))
        chosen = [_with(item, query.get("with", "")) for item in items[(page - 1) * limit:page * limit]]
        if not chosen:
            return 204, b"", {}
        links: dict[str, Any] = {"self": {"href": f"{self.url}/api/v4/{entity}?page={page}"}}
        if page * limit < len(items):
            links["next"] = {"href": f"{self.url}/api/v4/{entity}?page={page + 1}"}
        return 200, _json({"_page": page, "_links": links, "_embedded": {entity: chosen}}), _HAL

    def _refresh(self, handler: BaseHTTPRequestHandler) -> tuple[int, bytes, dict[str, str]]:
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length) or b"{}")
        with self._lock:
            if body.get("grant_type") != "refresh_token" or body.get("refresh_token") != self.refresh_token:
                return 400, _problem(400, "Bad Request"), {"Content-Type": "application/problem+json"}
            self._refreshes += 1
            self.access_token = f"access-{self._refreshes}"
            self.refresh_token = f"refresh-{self._refreshes}"  # the old one stops working at once
            pair = {"token_type": "Bearer", "expires_in": 86400, "access_token": self.access_token,
                    "refresh_token": self.refresh_token}
        return 200, _json(pair), {"Content-Type": "application/json"}


_HAL = {"Content-Type": "application/hal+json"}
ON_REQUEST = ("contacts", "loss_reason")  # a lead's _embedded keys amoCRM sends only when `with` names them


def _with(item: dict[str, Any], asked: str) -> dict[str, Any]:
    """The entity as served: embedded lists the request did not ask for left out."""
    embedded = item.get("_embedded")
    if not embedded or not any(key in embedded for key in ON_REQUEST):
        return item
    wanted = set(asked.split(","))
    return {**item, "_embedded": {key: value for key, value in embedded.items()
                                  if key not in ON_REQUEST or key in wanted}}


def _json(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def _problem(status: int, title: str) -> bytes:
    return _json({"title": title, "type": f"https://httpstatus.es/{status}", "status": status, "detail": title})
