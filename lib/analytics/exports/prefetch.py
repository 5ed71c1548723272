"""Read the next chunks on a thread while the current one is written (a small bounded buffer)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")
_DONE = object()


def prefetched(source: Iterable[Item], depth: int = 3) -> Iterator[Item]:
    """Yield what ``source`` yields, fetching up to ``depth`` items ahead on a worker thread.

    An error in the source is raised here, in the consumer; when the consumer stops early,
    the worker stops after the item it is fetching, and closes the source.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        buffer.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
            buffer.put(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            buffer.put(error)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while worker.is_alive():
            try:
                buffer.get_nowait()
            except queue.Empty:
                worker.join(timeout=0.05)
