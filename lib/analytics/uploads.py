"""Files people upload to a report: where they are kept, under which name, and what is refused.

A report declares ``source: "File[csv, xlsx]" = ""  # File: the list to check``; the form's upload widget hands
the bytes to :func:`save_upload`, which writes them at once, complete or not at all, to
``reports/uploads/<person's folder>/<random id>/<safe name>`` (folders 0700, the file 0600, like the exports:
contact lists hold phones and e-mails), and the report receives that :class:`~pathlib.Path`. The name the
browser sent is only a label: :func:`safe_name` keeps its last part in letters, digits, ``.``, ``-`` and ``_``,
so no name (``../../etc/passwd``, a NUL, 300 characters, only dots) reaches outside the run's folder.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from .access.identity import user_folder
from .config import Settings
from .exports.files import atomic_file, private_folder

UPLOAD_LIMIT = 100 * 1024 * 1024  # the largest file a File parameter takes, from the form or headless
LIMIT_TEXT = "100 MB"  # how the help and the messages say it
_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)
_LONGEST_NAME = 120  # characters of the kept name; file systems allow 255 bytes, and UTF-8 letters take two


def safe_name(name: str) -> str:
    """The browser's file name made a plain file name: its last path part, unsafe characters as ``-``, no
    leading dot (never hidden, never ``..``), at most 120 characters with its extension kept; ``upload`` when
    nothing is left."""
    last = re.split(r"[/\\]", name.replace("\x00", ""))[-1]
    cleaned = _UNSAFE.sub("-", last).strip("-. ")
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot:
        stem, suffix = cleaned, ""
    suffix = suffix[:16]
    stem = stem.strip("-. ")[: _LONGEST_NAME - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def upload_folder(settings: Settings, user: str) -> Path:
    """``reports/uploads/<person's folder>/``: one person's uploads, nobody else's."""
    return settings.reports_dir / "uploads" / user_folder(user)


def too_large(size: int) -> str | None:
    """The sentence refusing a file of ``size`` bytes, or None when it is within the limit."""
    if size <= UPLOAD_LIMIT:
        return None
    return f"is {size / 1024 / 1024:,.0f} MB; files of at most {LIMIT_TEXT} are taken (split the list and run each part)"


def save_upload(settings: Settings, user: str, name: str, content: bytes | memoryview) -> Path:
    """Write an uploaded file into a new private folder of this person's and return its path.

    ValueError (a plain sentence) for a file over the limit; nothing is written then.
    """
    refused = too_large(len(content))
    if refused:
        raise ValueError(refused)
    folder = private_folder(upload_folder(settings, user) / secrets.token_hex(8))
    path = folder / safe_name(name)
    if path.resolve().parent != folder.resolve():  # safe_name makes this impossible; a second lock on the door
        raise ValueError("has a name that cannot be used for a file")
    with atomic_file(path) as handle:
        handle.write(content)
    return path
