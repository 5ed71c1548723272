"""A local Slack (contracts §2): incoming webhooks and the Web API methods our bot calls, errors included.

* ``POST /services/T…/B…/…`` (a webhook): 200 ``ok``; errors as plain-text bodies with their status
  (400 ``invalid_payload`` for a body that is not JSON or has neither text nor blocks, 404 ``no_service``).
* ``POST /api/chat.postMessage`` / ``chat.update``: ``{"ok": true, "channel", "ts", "message"}``; HTTP 200 with
  ``{"ok": false, "error": "invalid_auth"}`` for a wrong token, ``no_text`` without text or blocks.
* ``files.getUploadURLExternal`` → ``upload_url`` on this server; ``POST /upload/<file_id>`` takes the bytes;
  ``files.completeUploadExternal`` shares them (``{"ok": true, "files": [...]}``).
* Trouble on demand: ``fail(*answers)`` queues answers for the next requests (``500`` → 500
  ``rollup_error``; ``429`` → 429 with ``Retry-After: 1``, an integer as slack_sdk needs); ``down()``
  closes the port (connection refused) and ``up()`` opens it again on the same port.

``messages`` holds what Slack accepted (posts and edits, in order); ``requests`` every request and its status.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .server import reply, start, stop

BOT_TOKEN = "xoxb-fake-bot-token"
WEBHOOK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


@dataclass
class FakeSlack:
    messages: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[float, str, int]] = field(default_factory=list)
    retry_after: int = 1
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._ts = 1_700_000_000

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def webhook_settings(self) -> dict[str, str]:
        return {"ANALYTICS_SLACK_WEBHOOK_URL": self.webhook_url}

    def bot_settings(self) -> dict[str, str]:
        return {"ANALYTICS_SLACK_BOT_TOKEN": BOT_TOKEN, "ANALYTICS_SLACK_CHANNEL": "C0ALERTS",
                "ANALYTICS_SLACK_API_URL": self.api_url}

    def fail(self, *answers: str) -> None:
        """The next requests get these answers ("500", "503", "429"), one each, before normal service."""
        with self._lock:
            self._failures.extend(answers)

    def __enter__(self) -> FakeSlack:
        self.up()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.down()

    def up(self) -> None:
        self._server = start(self._answer, methods=("POST",), port=self.port)
        self.port = self._server.server_address[1]

    def down(self) -> None:
        stop(self._server)
        self._server = None

    # --- the API ------------------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0") or 0)
        raw = handler.rfile.read(length)
        path = urlsplit(handler.path).path
        with self._lock:
            forced = self._failures.pop(0) if self._failures else ""
            status, body, headers = self._forced(forced, path) if forced else self._route(path, handler.headers, raw)
            self.requests.append((time.monotonic(), path, status))
        reply(handler, status, body, headers)

    def _forced(self, answer: str, path: str) -> tuple[int, bytes, dict[str, str]]:
        api = path.startswith("/api/")
        if answer == "429":
            body = json.dumps({"ok": False, "error": "ratelimited"}).encode() if api else b"rate_limited"
            return 429, body, {"Retry-After": str(self.retry_after),
                               "Content-Type": "application/json" if api else "text/plain"}
        if api:
            return int(answer), b"<html><body>Internal Server Error</body></html>", {"Content-Type": "text/html"}
        return int(answer), b"rollup_error", {"Content-Type": "text/plain"}

    def _route(self, path: str, headers: Any, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        if path == WEBHOOK_PATH:
            return self._webhook(raw)
        if path.startswith("/upload/"):
            self.uploads.append({"file_id": path.rsplit("/", 1)[1], "bytes": len(raw)})
            return 200, b"OK - " + str(len(raw)).encode(), {"Content-Type": "text/plain"}
        if not path.startswith("/api/"):
            return 404, b"no_service", {"Content-Type": "text/plain"}
        if headers.get("Authorization", "") != f"Bearer {BOT_TOKEN}":
            return _api({"ok": False, "error": "invalid_auth"})
        data = _body(headers.get("Content-Type", ""), raw)
        method = path[len("/api/"):]
        if method in ("chat.postMessage", "chat.update"):
            if not data.get("text") and not data.get("blocks"):
                return _api({"ok": False, "error": "no_text"})
            self._ts += 1
            ts = data.get("ts") if method == "chat.update" else f"{self._ts}.000100"
            self.messages.append({"method": method, "channel": data.get("channel"), "ts": ts, **data})
            return _api({"ok": True, "channel": data.get("channel"), "ts": ts, "message": {"text": data.get("text")}})
        if method == "files.getUploadURLExternal":
            if not int(data.get("length") or 0):
                return _api({"ok": False, "error": "missing_argument"})
            file_id = f"F{len(self.uploads) + 1:08d}"
            return _api({"ok": True, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}", "file_id": file_id})
        if method == "files.completeUploadExternal":
            files = json.loads(data.get("files") or "[]")
            return _api({"ok": True, "files": [{"id": item["id"], "title": item.get("title", "")} for item in files]})
        return _api({"ok": False, "error": "unknown_method"})

    def _webhook(self, raw: bytes) -> tuple[int, bytes, dict[str, str]]:
        try:
            data = json.loads(raw)
        except ValueError:
            return 400, b"invalid_payload", {"Content-Type": "text/plain"}
        if not isinstance(data, dict) or not (data.get("text") or data.get("blocks")):
            return 400, b"no_text", {"Content-Type": "text/plain"}
        self.messages.append({"method": "webhook", **data})
        return 200, b"ok", {"Content-Type": "text/plain"}


def _api(data: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    return 200, json.dumps(data).encode(), {"Content-Type": "application/json; charset=utf-8"}


def _body(content_type: str, raw: bytes) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(raw or b"{}")
    return {name: values[0] for name, values in parse_qs(raw.decode("utf-8")).items()}
