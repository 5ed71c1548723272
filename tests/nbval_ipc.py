"""A pytest plugin for the nbval subprocess of test_nbval: its kernels talk over Unix sockets (see
analytics.kernel_sockets for why)."""

from __future__ import annotations

import nbval.kernel

from analytics.kernel_sockets import UnixSocketKernelManager

nbval.kernel.KernelManager = UnixSocketKernelManager
