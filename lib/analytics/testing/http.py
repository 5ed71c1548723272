"""A small HTTP client for tests and benchmarks of the app: real sockets, a cookie jar, no redirects followed,
a chosen source address (so a test can come from a "proxy" at 127.0.0.2), and the sign-in form."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import re
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def set_cookies(self) -> list[str]:
        return self.headers.get_all("Set-Cookie") or []


@dataclass
class Client:
    port: int
    host: str = "127.0.0.1"
    source: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=120, source_address=(self.source, 0))
        try:
            sent = {**({"Cookie": self.cookie_header()} if self.cookies else {}), **(headers or {})}
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            reply = Reply(response.status, response.headers, response.read())
        finally:
            connection.close()
        for line in reply.set_cookies():
            parsed = SimpleCookie()
            parsed.load(line)
            for name, morsel in parsed.items():
                if morsel.value and morsel["expires"] != "Thu, 01 Jan 1970 00:00:00 GMT" and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return reply

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers=headers)

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def sign_in(self, name: str, password: str, next_path: str = "/") -> Reply:
        form = self.get("/login")
        found = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
        xsrf = found.group(1) if found else ""
        body = urlencode({"_xsrf": xsrf, "name": name, "password": password, "next": next_path}).encode()
        return self.request("POST", "/login", body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def websocket(self, path: str, **headers: str) -> int:
        """The status of a websocket upgrade: 101 when it opened, else the refusal's status.

        A plain socket sends the upgrade and reads the status line, then closes: no event loop is left with a
        refused socket to close later (which pytest reports as an unraisable warning under load).
        """
        sent = {"Host": f"{self.host}:{self.port}", "Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(), "Sec-WebSocket-Version": "13",
                **({"Cookie": self.cookie_header()} if self.cookies else {}), **headers}
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in sent.items())
        with socket.create_connection((self.host, self.port), timeout=120,
                                      source_address=(self.source, 0)) as connection:
            connection.sendall((request + "\r\n").encode("latin-1"))
            received = b""
            while b"\r\n" not in received and (chunk := connection.recv(1024)):
                received += chunk
        return int(received.split(b"\r\n", 1)[0].split()[1])

    def kernel_messages(self, kernel_id: str, messages: list[dict[str, Any]], listen_seconds: float = 3.0,
                        until: Callable[[dict], bool] | None = None) -> list[dict]:
        """Send Jupyter messages over the kernel's websocket (as the page does) and collect what it sends back
        for ``listen_seconds``, or until a message satisfies ``until``."""
        return _run(self._exchange(kernel_id, messages, listen_seconds, until))

    async def _exchange(self, kernel_id: str, messages: list[dict[str, Any]], listen_seconds: float,
                        until: Callable[[dict], bool] | None) -> list[dict]:
        request = HTTPRequest(f"ws://{self.host}:{self.port}/api/kernels/{kernel_id}/channels?session_id=probe",
                              headers={"Cookie": self.cookie_header()})
        connection = await websocket_connect(request)
        received: list[dict] = []
        try:
            for message in messages:
                await connection.write_message(json.dumps(message))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + listen_seconds
            while (left := deadline - loop.time()) > 0:
                try:
                    raw = await asyncio.wait_for(connection.read_message(), left)
                except TimeoutError:
                    break
                if raw is None:
                    break
                if isinstance(raw, str):
                    received.append(json.loads(raw))
                    if until is not None and until(received[-1]):
                        break
        finally:
            connection.close()
            await asyncio.sleep(0.05)
        return received


def _run(coroutine: Any) -> Any:
    """Run a coroutine on a loop of its own thread: the caller's thread may already run one (Playwright's)."""
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()
