"""What the app's kernels inherit, and how a warm kernel proves it is one of them.

A warm (preheated) kernel waits for its visitor by opening the websocket ``/voila/query/<kernel id>`` on
the app, which answers with the visitor's request: name, address, query string. A kernel id is no secret
(``ps`` shows it in every kernel's command line), so anyone on the machine could open that websocket first
and take the next visitor's request. The app therefore makes a fresh random secret at each start and puts
it in its kernels' environment, which only the app's own account can read (``/proc/<pid>/environ``), unlike
a command line. The kernel sends ``HMAC(secret, kernel id)`` in a header; the gate opens the websocket only
for that proof, so a proof seen once (a log) opens no other kernel's request.

The same place takes the shared token out of the environment kernels inherit: a report's code, or a program
it starts, has no use for the key that signs in as an admin.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Mapping, MutableMapping

from ..errors import AnalyticsError

KERNEL_SECRET_ENV = "ANALYTICS_KERNEL_SECRET"
PROOF_HEADER = "X-Analytics-Kernel-Proof"
KEPT_FROM_KERNELS = ("ANALYTICS_SERVE_TOKEN",)  # never in a kernel's environment
OPEN_TIMEOUT_SECONDS = 10


class VisitorUnknown(AnalyticsError):
    """A warm kernel could not learn who opened its page: it must not run the report for nobody in particular."""


def seal_kernel_environment(environ: MutableMapping[str, str]) -> str:
    """Before the app starts kernels: take the token out of ``environ`` (which every kernel copies) and put a
    fresh kernel secret in. Returns the secret, for the gate to check proofs with."""
    for name in KEPT_FROM_KERNELS:
        environ.pop(name, None)
    secret = secrets.token_hex(32)
    environ[KERNEL_SECRET_ENV] = secret
    return secret


def visitor_kernel_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """A visitor kernel's environment (started for one page, never waiting for a request): without the token
    and without the kernel secret, which only warm kernels need."""
    return {name: value for name, value in environment.items() if name not in (*KEPT_FROM_KERNELS, KERNEL_SECRET_ENV)}


def kernel_proof(secret: str, kernel_id: str) -> str:
    """What a kernel sends to show it holds the app's secret, bound to its own id."""
    return hmac.new(secret.encode(), kernel_id.encode(), hashlib.sha256).hexdigest()


def proof_valid(secret: str, kernel_id: str, proof: str | None) -> bool:
    return bool(secret and proof) and hmac.compare_digest(kernel_proof(secret, kernel_id).encode(), (proof or "").encode())


def query_url(environ: Mapping[str, str]) -> str:
    """The app's request-info websocket for this kernel, from the variables Voilà gives a warm kernel (as
    ``voila.utils.wait_for_request`` builds it)."""
    protocol = environ.get("VOILA_WS_PROTOCOL", "ws")
    host = environ.get("VOILA_APP_IP", "127.0.0.1")
    port = environ.get("VOILA_APP_PORT", "8866")
    base = environ.get("VOILA_WS_BASE_URL", environ.get("VOILA_SERVER_URL", "/"))
    return f"{protocol}://{host}:{port}{base}voila/query/{environ['VOILA_KERNEL_ID']}"


def wait_for_visitor() -> None:
    """In a warm kernel: block until the app hands this kernel to a visitor, then put the visitor's request
    (``HTTP_X_ANALYTICS_USER``, ``QUERY_STRING``, ...) into ``os.environ``, as Voilà's ``wait_for_request``
    does, but proving the kernel is the app's own. Does nothing outside a warm kernel. The secret leaves this
    process's environment once used, so programs the report starts do not inherit it."""
    if os.environ.get("VOILA_PREHEAT") != "True":
        return
    secret = os.environ.pop(KERNEL_SECRET_ENV, "")
    kernel_id = os.environ.get("VOILA_KERNEL_ID", "")
    if not secret or not kernel_id:
        raise VisitorUnknown("This report page could not be prepared for you (the app did not give its kernel "
                             "what it needs). Reload the page; if it happens again, tell the person who runs the app.")
    url = query_url(os.environ)
    received: list[str] = []
    failures: list[BaseException] = []

    def receive() -> None:  # the kernel's own thread runs an event loop already: this one gets its own
        try:
            received.append(asyncio.run(_request_info(url, kernel_proof(secret, kernel_id))))
        except Exception as error:  # reported below, in the kernel's thread
            failures.append(error)

    thread = threading.Thread(target=receive, name="analytics-wait-for-visitor")
    thread.start()
    thread.join()
    if failures or not received:
        raise VisitorUnknown("This report page could not learn who opened it. Reload the page; if it happens "
                             "again, tell the person who runs the app.") from (failures[0] if failures else None)
    for name, value in json.loads(received[0]).items():
        os.environ[name] = value


async def _request_info(url: str, proof: str) -> str:
    import websockets  # noqa: PLC0415 - only in a warm kernel

    async with websockets.connect(url, additional_headers={PROOF_HEADER: proof}, open_timeout=OPEN_TIMEOUT_SECONDS,
                                  max_size=1 << 20) as connection:
        message = await connection.recv()
    return message if isinstance(message, str) else message.decode("utf-8")
