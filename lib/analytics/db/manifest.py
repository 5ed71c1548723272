"""The embedded store's list of committed parts per table, and the writer lock that guards it.

Readers never lock: they read ``manifest.json`` (replaced atomically by ``os.replace``) and
query exactly the parts it lists, so a query or a whole run sees one fixed list. Writers hold
an exclusive ``flock`` on the table's ``.lock`` file while they commit; the kernel releases it
when a writer dies, so a killed writer never blocks the others. One commit can add and remove
parts, which is what makes "replace these days" and "compact these parts" atomic.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError

MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"
TOKENS_KEPT = 100_000  # like ClickHouse's deduplication window, but wide: the newest tokens per table


@dataclass(frozen=True)
class Part:
    """One immutable Parquet file of a table: its rows, bytes and partition ID ("" when unpartitioned)."""

    name: str
    rows: int
    size: int
    partition: str = ""

    def to_json(self) -> list:
        return [self.name, self.rows, self.size, self.partition]


@dataclass
class Manifest:
    """What a table holds at one generation: listed parts, committed insert tokens, retired parts awaiting deletion."""

    generation: int = 0
    parts: list[Part] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)  # token -> generation that committed it
    retired: dict[str, float] = field(default_factory=dict)  # part name -> time it left the list

    @property
    def names(self) -> list[str]:
        return [part.name for part in self.parts]

    def retire(self, names: set[str]) -> None:
        now = time.time()
        self.parts = [part for part in self.parts if part.name not in names]
        self.retired.update({name: now for name in names})

    def remember(self, token: str) -> None:
        self.tokens[token] = self.generation
        if len(self.tokens) > TOKENS_KEPT:
            for old in sorted(self.tokens, key=self.tokens.__getitem__)[: len(self.tokens) - TOKENS_KEPT]:
                del self.tokens[old]


def read_manifest(folder: Path) -> Manifest:
    """The table's committed state; a folder from before manifests lists its part files as they are."""
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        legacy = sorted(entry for entry in os.listdir(folder) if entry.startswith("part-") and entry.endswith(".parquet"))
        return Manifest(parts=[Part(name, -1, (folder / name).stat().st_size) for name in legacy])
    except (OSError, ValueError) as error:
        raise StoreError(f"The embedded store's list of parts in {folder} cannot be read ({error}).") from error
    return Manifest(data["generation"], [Part(*item) for item in data["parts"]], data.get("tokens", {}),
                    data.get("retired", {}))


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically (the caller holds the lock)."""
    manifest.generation += 1
    body = json.dumps({"generation": manifest.generation, "parts": [part.to_json() for part in manifest.parts],
                       "tokens": manifest.tokens, "retired": manifest.retired}, ensure_ascii=False, separators=(",", ":"))
    temporary = folder / f".tmp-manifest-{uuid.uuid4().hex}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / MANIFEST_FILE)


@contextmanager
def table_lock(folder: Path) -> Iterator[None]:
    """Hold the table's writer lock; released by the kernel if this process dies."""
    try:
        handle = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise StoreError(f"The table folder {folder} disappeared (was the table dropped?).") from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the flock


@contextmanager
def committing(folder: Path) -> Iterator[Manifest]:
    """Lock, read the current manifest, let the caller change it, write it back if it changed."""
    with table_lock(folder):
        manifest = read_manifest(folder)
        before = (manifest.names, dict(manifest.tokens), dict(manifest.retired))
        yield manifest
        if (manifest.names, manifest.tokens, manifest.retired) != before:
            write_manifest(folder, manifest)
