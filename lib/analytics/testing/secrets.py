"""Finding configured secret values in files the product wrote: executed notebooks, exports, logs.

XLSX files are zip archives, so their members are searched too (a secret in a cell is compressed).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

SCANNED = {".ipynb", ".csv", ".xlsx", ".log", ".jsonl", ".html"}


def _contents(path: Path) -> Iterable[bytes]:
    if path.suffix == ".xlsx":
        try:
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield archive.read(member)
        except zipfile.BadZipFile:
            yield path.read_bytes()
    else:
        yield path.read_bytes()


def secret_leaks(roots: Iterable[Path], secrets: Mapping[str, str]) -> list[tuple[Path, str]]:
    """(file, secret's name) for every written file under ``roots`` that holds a secret's value."""
    needles = {name: value.encode("utf-8") for name, value in secrets.items() if value}
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.suffix not in SCANNED or not path.is_file():
                continue
            for blob in _contents(path):
                found.extend((path, name) for name, needle in needles.items() if needle in blob)
    return sorted(set(found))
