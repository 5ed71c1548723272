"""Kernels that talk over Unix sockets instead of TCP ports.

jupyter_client picks a kernel's five TCP ports by binding to port 0 and letting go; until the kernel binds them,
any other process on the machine (a ClickHouse server, an HTTP client's outgoing connection) may take one, and the
kernel dies before it answers ("Kernel died before replying to kernel_info"). On a busy machine starting kernels
in parallel (the test suite, an office of visitors) that happens once in a few hundred starts. A Unix socket is a
file named after its kernel, so two kernels can never share one, and nothing outside this machine can reach it."""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager
from traitlets import CaselessStrEnum, default

TRANSPORT = "ipc"  # jupyter_client's name for Unix sockets


def _socket_prefix(manager: Any) -> str:
    """jupyter_client names the sockets after the connection file when it knows it, else `kernel-ipc` in the
    working directory (a notebook's folder): a fresh name in the temporary folder instead."""
    connection_file = getattr(manager, "connection_file", "")
    if connection_file:
        return os.path.splitext(connection_file)[0] + "-ipc"
    return os.path.join(tempfile.gettempdir(), f"kernel-{uuid.uuid4().hex}")


def _on_unix_sockets(base: type[KernelManager], doc: str) -> type[KernelManager]:
    """`base` with Unix sockets as its default transport (a trait must be declared on a HasTraits class)."""
    return type(f"UnixSocket{base.__name__}", (base,), {
        "__doc__": doc, "transport": CaselessStrEnum(["tcp", "ipc"], default_value=TRANSPORT, config=True),
        "_socket_prefix": default("ip")(_socket_prefix)})


UnixSocketKernelManager = _on_unix_sockets(KernelManager, "For nbval, which starts kernels with the blocking manager.")
AsyncUnixSocketKernelManager = _on_unix_sockets(AsyncKernelManager,
                                                "For papermill (nbclient), which starts kernels with asyncio.")
