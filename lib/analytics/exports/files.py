"""Where export files go and how they appear: under names nobody can guess, complete or not at all."""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


def export_name(report: str, key_params: Mapping[str, object], suffix: str, *, now: dt.datetime | None = None) -> str:
    """``<report>_<key params>_<time>_<random>.<suffix>``: readable, never overwritten, not guessable."""
    parts = [report] + [f"{value}" for value in key_params.values() if value not in (None, "")]
    readable = "_".join(_UNSAFE.sub("-", str(part)).strip("-")[:40] for part in parts if str(part).strip())
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{readable}_{stamp}_{secrets.token_hex(8)}.{suffix.lstrip('.')}"


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Write to a hidden temporary file beside ``path`` and move it into place only when complete.

    The file is readable and writable by its owner only (exports hold card numbers).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{secrets.token_hex(8)}-{path.name}")
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
