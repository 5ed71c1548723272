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
RETIRED_FILE = "retired.log"  # "name<TAB>time" per part that left the list, appended before the commit that drops it
LOCK_FILE = ".lock"
COMPACT_LOCK_FILE = ".compact.lock"
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
    """What a table holds at one generation: listed parts and committed insert tokens."""

    generation: int = 0
    parts: list[Part] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)  # token -> generation that committed it
    retiring: set[str] = field(default_factory=set)  # parts this commit removes (recorded in retired.log first)

    @property
    def names(self) -> list[str]:
        return [part.name for part in self.parts]

    def retire(self, names: set[str]) -> None:
        self.parts = [part for part in self.parts if part.name not in names]
        self.retiring |= names

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
    return Manifest(data["generation"], [Part(*item) for item in data["parts"]], data.get("tokens", {}))


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest atomically (the caller holds the lock)."""
    manifest.generation += 1
    body = json.dumps({"generation": manifest.generation, "parts": [part.to_json() for part in manifest.parts],
                       "tokens": manifest.tokens}, ensure_ascii=False, separators=(",", ":"))
    temporary = folder / f".tmp-manifest-{uuid.uuid4().hex}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, folder / MANIFEST_FILE)


@contextmanager
def table_lock(folder: Path, name: str = LOCK_FILE, *, wait: bool = True) -> Iterator[bool]:
    """Hold one of the table's locks; released by the kernel if this process dies.

    With ``wait=False`` yields False at once when another process holds it.
    """
    try:
        handle = open(folder / name, "a+")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise StoreError(f"The table folder {folder} disappeared (was the table dropped?).") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()  # closing releases the flock


@contextmanager
def committing(folder: Path) -> Iterator[Manifest]:
    """Lock, read the current manifest, let the caller change it, write it back if it changed."""
    with table_lock(folder):
        manifest = read_manifest(folder)
        before = (manifest.names, dict(manifest.tokens))
        yield manifest
        if (manifest.names, manifest.tokens) != before:
            if manifest.retiring:
                record_retired(folder, manifest.retiring)
            write_manifest(folder, manifest)


def record_retired(folder: Path, names: set[str]) -> None:
    """Note when parts leave the list (before the commit), so they are deleted only after the grace period."""
    now = time.time()
    with open(folder / RETIRED_FILE, "a", encoding="utf-8") as handle:
        handle.writelines(f"{name}\t{now}\n" for name in sorted(names))


def read_retired(folder: Path) -> dict[str, float]:
    try:
        lines = (folder / RETIRED_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    retired = {}
    for line in lines:
        name, _, at = line.partition("\t")
        if name and at:
            retired[name] = float(at)
    return retired


def rewrite_retired(folder: Path, retired: dict[str, float]) -> None:
    temporary = folder / f".tmp-retired-{uuid.uuid4().hex}"
    temporary.write_text("".join(f"{name}\t{at}\n" for name, at in retired.items()), encoding="utf-8")
    os.replace(temporary, folder / RETIRED_FILE)
