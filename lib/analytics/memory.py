"""Giving memory back after a run, so a visitor's kernel waits for the next Run at its resting size.

A kernel lives as long as its page is open. The allocators under a run (chDB's jemalloc, Arrow's pool,
glibc's heap) keep what the run freed for reuse, so without this every open page holds its largest run's
memory. Handing it back costs milliseconds; the next run asks the system again.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

from .db import Database


def give_back(db: Database) -> None:
    """Return the memory the last run freed: the engine's, Arrow's pool and the C heap.

    No ``gc.collect()``: after a report it frees nothing measurable and takes 100-300 ms of the visitor's wait.
    """
    db.release_memory()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    _trim_c_heap()


def _trim_c_heap() -> None:
    """glibc's ``malloc_trim(0)``: free pages at the top and inside the heap go back to the system."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        ctypes.CDLL(name).malloc_trim(0)
