"""The plumbing every fake SaaS server shares: a threaded loopback HTTP server and how an answer is written."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True  # a fake brought down and up again gets its port back at once


def start(answer: Callable[[BaseHTTPRequestHandler], None], *, methods: Sequence[str] = ("GET",),
          port: int = 0) -> ThreadingHTTPServer:
    """Serve ``answer`` for these HTTP methods on 127.0.0.1 (``port`` 0: a free one) in a background thread."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes on a kept-alive connection: without TCP_NODELAY, Nagle's algorithm
        # holds the body until the client's delayed ACK, ~40 ms an answer (400 pages asked back to back: 16 s)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            pass

    for method in methods:
        setattr(Handler, f"do_{method}", lambda handler: answer(handler))
    server = _Server(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def stop(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
