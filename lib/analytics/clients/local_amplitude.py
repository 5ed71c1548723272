"""A local Amplitude Behavioral Cohorts API (contracts §1.3): request → poll → file, with its refusals.

Part of the product, not only of the tests: the demo app (`make run`, ``ANALYTICS_AMPLITUDE_URL=demo``) serves
cohorts built from the demo warehouse with it, and the tests use it as their Amplitude (re-exported by
``analytics.testing.fakes.amplitude``), so both follow the same contract.

* ``GET /api/5/cohorts/request/{cohort_id}``: 202 ``{"request_id", "cohort_id"}``; 404 for an unknown cohort.
* ``GET /api/5/cohorts/request-status/{request_id}``: 202 ``JOB INPROGRESS`` for the first ``polls_before_ready``
  polls (forever when ``never_ready``), then 200 ``JOB COMPLETED``.
* ``GET /api/5/cohorts/request/{request_id}/file``: the CSV (every value quoted, ``\\n`` line ends), gzip with
  ``Content-Encoding: gzip`` when ``gzip``; with ``redirect``, a 302 to a pre-signed "S3" link on another host
  name (``localhost`` for ``127.0.0.1``) that refuses requests carrying an Authorization header, as S3 does.
* Basic auth: no header → 401; wrong keys → 403 with the documented error envelope.
* ``throttle``: that many 429 answers (with ``Retry-After``) before the first request is served;
  ``fail_status``: answer every API call with this status (500, 503…).

Every request is logged in ``requests`` (time, path, whether it carried Authorization) for tests to inspect.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..db import Database
from .local_server import reply, start, stop

API_KEY, SECRET_KEY = "fake-api-key", "fake-secret-key"


def cohort_csv(amplitude_ids: np.ndarray, user_ids: list[str] | np.ndarray | None = None) -> bytes:
    """A cohort file as Amplitude writes it: header, every value double-quoted, ``\\n`` line ends (built vectorized)."""
    amplitude = pa.array(np.asarray(amplitude_ids, dtype=np.uint64)).cast(pa.string())
    users = pa.array([""] * len(amplitude), pa.string()) if user_ids is None else pa.array(
        np.asarray(user_ids).astype(str) if not isinstance(user_ids, list) else user_ids, pa.string())
    lines = pc.binary_join_element_wise('"', amplitude, '","', users, '"\n', "")
    body = b"".join(_string_bytes(chunk) for chunk in pa.chunked_array([lines]).chunks)
    return b'"amplitude_id","user_id"\n' + body


def _string_bytes(strings: pa.StringArray) -> bytes:
    """The concatenated UTF-8 bytes of a string array, straight from its buffers."""
    if len(strings) == 0:
        return b""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]
    return strings.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


@dataclass
class Request:
    at: float
    path: str
    authorized: bool
    status: int


@dataclass
class FakeAmplitude:
    """Start with ``with FakeAmplitude() as fake:``; put cohorts in ``fake.cohorts[id] = csv_bytes``."""

    cohorts: dict[str, bytes] = field(default_factory=dict)
    polls_before_ready: int = 1
    never_ready: bool = False
    throttle: int = 0
    retry_after: str = "0"
    fail_status: int | None = None
    gzip: bool = False
    redirect: bool = False
    requests: list[Request] = field(default_factory=list)
    exports: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._presigned: dict[str, str] = {}

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def settings(self) -> dict[str, str]:
        """The environment that points the product at this fake."""
        return {"ANALYTICS_AMPLITUDE_URL": self.url, "ANALYTICS_AMPLITUDE_API_KEY": API_KEY,
                "ANALYTICS_AMPLITUDE_SECRET_KEY": SECRET_KEY, "ANALYTICS_AMPLITUDE_POLL_SECONDS": "0.05",
                "ANALYTICS_AMPLITUDE_WAIT_SECONDS": "20"}

    def overrides(self) -> dict[str, object]:
        """The same, as ``load_settings(**overrides)`` keyword arguments."""
        return {"amplitude_url": self.url, "amplitude_api_key": API_KEY, "amplitude_secret_key": SECRET_KEY,
                "amplitude_poll_seconds": 0.05, "amplitude_wait_seconds": 20.0}

    def __enter__(self) -> FakeAmplitude:
        self._server = start(self._answer)
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop(self._server)

    # --- the API ------------------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        authorization = handler.headers.get("Authorization", "")
        status, body, headers = self._route(path, authorization, handler.headers.get("Host", ""))
        with self._lock:
            self.requests.append(Request(time.monotonic(), path, bool(authorization), status))
        reply(handler, status, body, headers)

    def _route(self, path: str, authorization: str, host: str) -> tuple[int, bytes, dict[str, str]]:
        if path.startswith("/s3/"):
            return self._presigned_file(path.removeprefix("/s3/"), authorization)
        refused = self._refuse(authorization)
        if refused:
            return refused
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if parts[:4] == ["api", "5", "cohorts", "request"] and len(parts) == 5:
            return self._request(parts[4])
        if parts[:4] == ["api", "5", "cohorts", "request-status"] and len(parts) == 5:
            return self._status(parts[4])
        if parts[:4] == ["api", "5", "cohorts", "request"] and len(parts) == 6 and parts[5] == "file":
            return self._file(parts[4], host)
        return _json(404, {"error": {"http_code": 404, "type": "not_found", "message": "Not found"}})

    def _refuse(self, authorization: str) -> tuple[int, bytes, dict[str, str]] | None:
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                return 429, b'{"error": {"http_code": 429, "type": "rate_limit", "message": "Too many requests"}}', {
                    "Content-Type": "application/json", "Retry-After": self.retry_after}
        if self.fail_status:
            return _json(self.fail_status, {"error": {"http_code": self.fail_status, "type": "unspecified"}})
        if not authorization.startswith("Basic "):
            return 401, b"Unauthorized", {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="amplitude"'}
        expected = base64.b64encode(f"{API_KEY}:{SECRET_KEY}".encode()).decode()
        if authorization.removeprefix("Basic ") != expected:
            return _json(403, {"error": {"http_code": 403, "type": "unspecified",
                                         "metadata": {"details": "Invalid API/Secret Key combination"}}})
        return None

    def _request(self, cohort_id: str) -> tuple[int, bytes, dict[str, str]]:
        if cohort_id not in self.cohorts:
            return _json(404, {"error": {"http_code": 404, "type": "not_found", "message": f"Cohort {cohort_id} not found"}})
        request_id = secrets.token_hex(6)
        with self._lock:
            self.exports[request_id] = {"cohort_id": cohort_id, "polls": 0}
        return _json(202, {"request_id": request_id, "cohort_id": cohort_id})

    def _status(self, request_id: str) -> tuple[int, bytes, dict[str, str]]:
        export = self.exports.get(request_id)
        if export is None:
            return _json(404, {"error": {"http_code": 404, "type": "not_found", "message": "Unknown request"}})
        with self._lock:
            export["polls"] += 1
            done = not self.never_ready and export["polls"] > self.polls_before_ready
        body = {"request_id": request_id, "cohort_id": export["cohort_id"],
                "async_status": "JOB COMPLETED" if done else "JOB INPROGRESS"}
        return _json(200 if done else 202, body)

    def _file(self, request_id: str, host: str) -> tuple[int, bytes, dict[str, str]]:
        export = self.exports.get(request_id)
        if export is None:
            return _json(404, {"error": {"http_code": 404, "type": "not_found", "message": "Unknown request"}})
        if self.redirect:
            token = secrets.token_hex(8)
            self._presigned[token] = export["cohort_id"]
            other_host = "localhost" if host.startswith("127.0.0.1") else "127.0.0.1"
            port = host.rsplit(":", 1)[-1]
            return 302, b"", {"Location": f"http://{other_host}:{port}/s3/{token}"}
        return self._content(export["cohort_id"])

    def _presigned_file(self, token: str, authorization: str) -> tuple[int, bytes, dict[str, str]]:
        if authorization:  # S3 refuses a second auth mechanism on a pre-signed URL
            return 400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>", {
                "Content-Type": "application/xml"}
        if token not in self._presigned:
            return 403, b"<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"}
        return self._content(self._presigned[token])

    def _content(self, cohort_id: str) -> tuple[int, bytes, dict[str, str]]:
        body = self.cohorts[cohort_id]
        if self.gzip:
            return 200, gzip.compress(body, compresslevel=1), {"Content-Type": "text/csv", "Content-Encoding": "gzip"}
        return 200, body, {"Content-Type": "text/csv"}


def _json(status: int, body: dict) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(body).encode(), {"Content-Type": "application/json"}


DEMO = "demo"  # ANALYTICS_AMPLITUDE_URL=demo: `analytics serve` answers cohorts from the demo warehouse itself


def demo_cohorts(db: Database) -> dict[str, bytes]:
    """Cohorts a demo marketer can paste, built from the warehouse's users (with a few unknown IDs and repeats)."""
    users = db.query_arrow("SELECT amplitude_id, os, region, registered_at FROM users ORDER BY user_id")
    amplitude = users.column("amplitude_id").to_numpy()
    latest = pc.max(users.column("registered_at")).as_py()
    recent = pc.greater_equal(users.column("registered_at"), pa.scalar(latest - dt.timedelta(days=30), pa.timestamp("s")))
    chosen = {
        "demo_ios": pc.equal(users.column("os"), "iOS"),
        "demo_moscow": pc.equal(users.column("region"), "Москва"),
        "demo_new": recent,
        "demo_sample": pa.array(np.arange(len(amplitude)) % 5 == 0),
    }
    noise = np.array([1, 2, 3], dtype=np.uint64)  # IDs Amplitude knows and we do not
    files = {}
    for name, mask in chosen.items():
        picked = amplitude[np.asarray(mask.to_numpy(zero_copy_only=False))][:200_000]
        files[name] = cohort_csv(np.concatenate([picked, picked[:5], noise]))
    return files


def start_demo_amplitude(database_url: str, environ: dict[str, str]) -> FakeAmplitude | None:
    """Serve the demo cohorts on loopback for this process and its kernels (``environ`` is updated); None without users."""
    from ..db import connect  # noqa: PLC0415 - only the demo app needs a connection here

    with connect(database_url) as db:
        if "users" not in db.tables():
            return None
        cohorts = demo_cohorts(db)
    fake = FakeAmplitude(cohorts=cohorts, polls_before_ready=1).__enter__()
    environ.update({**fake.settings(), "ANALYTICS_AMPLITUDE_POLL_SECONDS": "1"})
    return fake
