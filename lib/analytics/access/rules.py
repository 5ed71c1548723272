"""Which groups may open a report: each folder of ``notebooks/`` names them in ``access.json``
(``{"groups": ["account_managers"]}``), a notebook may name its own in its metadata
(``"analytics": {"groups": [...]}``), and admins open everything. A folder that names no groups is
for admins only: a new folder is closed until someone opens it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .identity import Person

ACCESS_FILE = "access.json"


def allowed_groups(notebooks: Path, relative: str) -> frozenset[str]:
    path = (notebooks / relative)
    return _groups(path, _stamp(path), _stamp(path.parent / ACCESS_FILE))


def may_open(person: Person, notebooks: Path, relative: str) -> bool:
    return person.is_admin or bool(person.groups & allowed_groups(notebooks, relative))


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=256)
def _groups(path: Path, _notebook_stamp: int, _folder_stamp: int) -> frozenset[str]:
    """Cached per file version: the stamps are part of the key, so an edited file is read again."""
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        own = metadata.get("analytics", {}).get("groups")
    except (OSError, ValueError):
        own = None
    if own is not None:
        return frozenset(own)
    try:
        return frozenset(json.loads((path.parent / ACCESS_FILE).read_text(encoding="utf-8")).get("groups", []))
    except (OSError, ValueError):
        return frozenset()
