"""Where export files go and how they appear: under names nobody can guess, complete or not at all.

Everything the product writes is its owner's only: every entry point sets :data:`PRIVATE_UMASK`, folders
are made with :func:`private_folder`, and :func:`owner_only` takes group and other bits off what an older
version left. A hidden temporary carries its writer's pid (``.tmp-<pid>-…``), so :func:`sweep_temporaries`
can tell one that a live run is writing from one that a killed run left behind.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)
PRIVATE_UMASK = 0o077  # files 0600, folders 0700: executed notebooks, logs and exports hold card numbers
_TEMPORARY = re.compile(r"^\.(?:tmp|spool)-(?P<pid>\d+)-")
_LEGACY_TEMPORARY = re.compile(r"^\.(?:tmp-[0-9a-f]{16}-|spool-[0-9a-f]+-[0-9a-f]{8}\.arrow$)")
LEGACY_TEMPORARY_SECONDS = 86400  # a temporary named without its writer's pid is left behind after a day


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
    private_folder(path.parent)
    temporary = path.with_name(hidden_name(path.name))
    try:
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def hidden_name(name: str) -> str:
    """A hidden temporary's name for ``name``: ``.tmp-<this pid>-<random>-<name>``."""
    return f".tmp-{os.getpid()}-{secrets.token_hex(8)}-{name}"


def private_folder(path: Path) -> Path:
    """``path`` and its missing parents, made readable by the owner only (0700)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def open_private(path: Path) -> IO[str]:
    """``path`` opened for appending text, created readable by the owner only (0600) if missing."""
    private_folder(path.parent)
    return open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a", encoding="utf-8")


def owner_only(*roots: Path) -> list[Path]:
    """Take group and other permission bits off every file and folder under ``roots`` (symbolic links are
    left alone); returns what changed. Files an older version wrote world-readable become private."""
    changed = []
    for root in roots:
        if not root.exists() or root.is_symlink():
            continue
        paths = [root] if root.is_file() else [root, *_tree(root)]
        for path in paths:
            try:
                mode = path.lstat().st_mode
                if not stat.S_ISLNK(mode) and mode & 0o077:
                    path.chmod(stat.S_IMODE(mode) & 0o700)
                    changed.append(path)
            except FileNotFoundError:  # removed meanwhile by its writer
                continue
    return changed


def sweep_temporaries(*roots: Path, now: float | None = None) -> list[tuple[Path, int]]:
    """Remove hidden temporaries under ``roots`` whose writer process is gone (a killed run's leftovers);
    those of live processes stay. Returns what was removed, with its size."""
    removed = []
    moment = now if now is not None else time.time()
    for root in roots:
        if not root.is_dir():
            continue
        for path in _tree(root):
            owner = _TEMPORARY.match(path.name)
            if owner is not None:
                stale = not process_alive(int(owner["pid"]))
            elif _LEGACY_TEMPORARY.match(path.name):
                try:
                    stale = moment - path.lstat().st_mtime > LEGACY_TEMPORARY_SECONDS
                except FileNotFoundError:
                    continue
            else:
                continue
            if stale and path.is_file() and not path.is_symlink():
                size = path.lstat().st_size
                path.unlink(missing_ok=True)
                removed.append((path, size))
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one of another user's counts as alive)."""
    if not 0 < pid < 1 << 22:  # Linux's largest pid; a bigger number is not a pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as status:
            return status.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _tree(root: Path) -> Iterator[Path]:
    for folder, folders, files in os.walk(root):
        for name in (*folders, *files):
            yield Path(folder) / name
