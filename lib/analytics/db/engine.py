"""The embedded store's state inside one process: one engine per store folder, shared by its connections.

chDB keeps its databases and views in the process, not in a session: a view one session makes, every
other session of the process reads. So the views over a store's parts cannot belong to a connection
(an :class:`~.embedded.EmbeddedStore`); they belong to one :class:`Engine` per store folder and process,
which every connection to that folder is a handle on. The engine owns

* the catalog session that keeps the store's chDB databases alive, and the lock under which they change;
* the *live* database: one view per table over exactly the parts its manifest lists now;
* the open snapshots: each pins, per table, the parts it saw on its first read (a :class:`TableState`).

A snapshot reads the live database while the live views are exactly what it pinned, which costs nothing.
Before the live views move past what an open snapshot pinned (another connection of the process read
after a write), that snapshot is given a database of its own, whose views are made over its pinned parts
on its next query; the database is dropped when the snapshot ends. Connections run their queries on
their own chDB sessions (a session runs one call at a time), pointed at the live database or their
snapshot's with ``USE``.

Across processes nothing changes: manifests, the writer's ``flock`` and the grace period before retired
parts are deleted (see :mod:`.manifest`) are what each process's engine reads.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import itertools
import json
import os
import stat
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import StoreError, UnknownTableError
from .failures import UnreadableTableError
from .manifest import MANIFEST_FILE, Manifest, read_manifest
from .sql import sql_string
from .tables import TableSpec

SCHEMA_FILE = "schema.json"
EMPTY_PART = "empty.parquet"
# The catalog session makes views whose file pattern lists every part: tens of thousands before compaction.
CATALOG_SETTINGS = "SET max_query_size = " + str(64 * 2**20)


@dataclass(frozen=True)
class TableState:
    """What one view of a table reads: its parts at one manifest generation, checked to be regular files."""

    signature: tuple[int, int]  # (schema file's inode, manifest generation)
    files: tuple[Path, ...]
    structure: str  # "`name` Type, ..." for file()


@dataclass
class _Views:
    """One chDB database of views, the state each view was made over, and the queries being started on it."""

    database: str
    made: dict[str, TableState | None] = field(default_factory=dict)  # None: to be made again
    created: bool = False
    using: int = 0  # queries told to read here that have not started yet: the database must stay
    holding: int = 0  # of those, snapshots' queries: its views must not change either
    retired: bool = False  # dropped once no query is being started on it


class Snapshot:
    """One fixed state of every table, pinned table by table on first read; ends with :meth:`Engine.end`."""

    def __init__(self) -> None:
        self.pins: dict[str, TableState] = {}
        self.views: _Views | None = None  # its own database, once the live views moved past its pins


class Reading:
    """Where one query reads: the database to ``USE``, the files each table's view reads, the tables left out.

    Until :meth:`started` (called once the query's plan is made: chDB resolves views when a query is sent)
    the engine keeps that database, and for a snapshot its views, as they are.
    """

    def __init__(self, engine: Engine, views: _Views, holding: bool, files: dict[str, tuple[Path, ...]],
                 unreadable: dict[str, UnreadableTableError]) -> None:
        self.database = views.database
        self.files = files
        self.unreadable = unreadable
        self._engine, self._views, self._holding = engine, views, holding

    def started(self) -> None:
        """The query was sent (or failed before): the engine may change or drop the views again. Idempotent."""
        if self._engine is not None:
            self._engine.started(self._views, self._holding)
            self._engine = None


class Engine:
    """The chDB state of one store folder in this process; get it with :func:`attach`, give it back with :meth:`detach`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self._handles = 0
        # unique per engine: another engine of the process never meets these databases, nor a later one stale views
        self._prefix = f"store_{hashlib.sha1(str(root).encode()).hexdigest()[:12]}_{uuid.uuid4().hex[:8]}"
        self._catalog: Any = None  # chdb.session.Session that makes and keeps the databases
        self._live = _Views(f"{self._prefix}_0")
        self._snapshots: list[Snapshot] = []
        self._numbers = itertools.count(1)
        self._states: dict[str, TableState] = {}  # the current state per table, its files checked
        self._manifests: dict[str, tuple[tuple[int, int, int], Manifest]] = {}  # read cache by the file's stat
        self._specs: dict[str, tuple[tuple[int, int], TableSpec]] = {}

    # --- the folder's tables ---------------------------------------------------------------------
    def tables(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(entry.name for entry in os.scandir(self.root)
                      if entry.is_dir() and not entry.name.startswith(".") and holds_table(Path(entry.path)))

    def spec(self, table: str) -> TableSpec:
        path = self.root / table / SCHEMA_FILE
        try:
            found = path.stat() if is_plain_name(table) else None
        except (FileNotFoundError, NotADirectoryError):
            found = None
        except OSError as error:
            raise self.unreadable_file(table, SCHEMA_FILE, error) from None
        if found is None:
            raise UnknownTableError(table, self.tables())
        cached = self._specs.get(table)
        if cached is None or cached[0] != (found.st_ino, found.st_mtime_ns):
            try:
                spec = TableSpec.from_json(table, json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError) as error:
                raise self.unreadable_file(table, SCHEMA_FILE, error) from None
            self._specs[table] = cached = ((found.st_ino, found.st_mtime_ns), spec)
        return cached[1]

    def manifest(self, table: str) -> Manifest:
        """The table's committed list of parts now (read again only when the file changed)."""
        folder = self.root / table
        try:
            found = (folder / MANIFEST_FILE).stat()
            signature = (found.st_ino, found.st_mtime_ns, found.st_size)
        except FileNotFoundError:
            signature = (0, 0, 0)
        except OSError as error:
            raise self.unreadable_file(table, MANIFEST_FILE, error) from None
        cached = self._manifests.get(table)
        try:
            manifest = cached[1] if cached and cached[0] == signature and signature[0] else read_manifest(folder)
        except (OSError, StoreError) as error:
            raise self.unreadable_file(table, MANIFEST_FILE, error.__cause__ or error) from None
        self._manifests[table] = (signature, manifest)
        return manifest

    def unreadable_file(self, table: str, name: str, error: Exception) -> UnreadableTableError:
        path = self.root / table / name if name else self.root / table
        return UnreadableTableError(table, f"{table}/{name}" if name else table, reason(error), path=str(path))

    def _current(self, table: str) -> TableState:
        """The table as its manifest lists it now; its part files are checked when the list changed."""
        try:
            schema = (self.root / table / SCHEMA_FILE).stat()
        except OSError as error:
            raise self.unreadable_file(table, SCHEMA_FILE, error) from None
        spec = self.spec(table)
        manifest = self.manifest(table)
        signature = (schema.st_ino, manifest.generation)
        known = self._states.get(table)
        if known is not None and known.signature == signature:
            return known
        folder = self.root / table
        files = tuple(folder / part.name for part in manifest.parts) or (folder / EMPTY_PART,)
        for path in files:
            problem = part_problem(path)
            if problem:
                raise UnreadableTableError(table, f"{table}/{path.name}", problem, path=str(path))
        structure = ", ".join(f"{quoted_name(name)} {kind}" for name, kind in spec.columns.items())
        self._states[table] = state = TableState(signature, files, structure)
        return state

    # --- views ---------------------------------------------------------------------------------------
    def reading(self, snapshot: Snapshot | None) -> Reading:
        """Make the views a query needs (the live ones, or the snapshot's own) and say where it reads."""
        with self.lock:
            self._catalog_session()
            wanted: dict[str, TableState] = {}
            unreadable: dict[str, UnreadableTableError] = {}
            for table in self.tables():
                try:
                    state = snapshot.pins.get(table) if snapshot is not None else None
                    if state is None:
                        state = self._current(table)
                        if snapshot is not None:
                            snapshot.pins[table] = state
                    wanted[table] = state
                except UnreadableTableError as error:
                    unreadable[table] = error
            if snapshot is not None and snapshot.views is not None:
                views = snapshot.views
            else:
                views = self._live_for(wanted, snapshot)
            self._sync(views, wanted)
            holding = snapshot is not None and views is self._live
            views.using += 1
            views.holding += holding
            return Reading(self, views, holding, {table: state.files for table, state in wanted.items()}, unreadable)

    def started(self, views: _Views, holding: bool) -> None:
        with self.lock:
            views.using -= 1
            views.holding -= holding
            if views.retired and not views.using and self._catalog is not None:
                self._drop_database(views)

    def _live_for(self, wanted: dict[str, TableState], reader: Snapshot | None) -> _Views:
        """The live views, about to show ``wanted``; what must not see them change is set apart first.

        Open snapshots whose pins the live views show now get a database of their own (made on their next
        query). A snapshot's query that is being started on the live database keeps it: the live views then
        move to a new database, and the old one is dropped once that query has started.
        """
        live = self._live.made
        changing = {table for table in set(live) | set(wanted) if live.get(table) != wanted.get(table)}
        if not changing:
            return self._live
        for snapshot in self._snapshots:
            if snapshot is reader or snapshot.views is not None:
                continue
            if any(table in snapshot.pins and snapshot.pins[table] == live.get(table) for table in changing):
                snapshot.views = self._new_views()
        if self._live.holding:
            self._live.retired = True
            self._live = self._new_views()
        return self._live

    def _new_views(self) -> _Views:
        return _Views(f"{self._prefix}_{next(self._numbers)}")

    def _sync(self, views: _Views, wanted: dict[str, TableState]) -> None:
        catalog = self._catalog
        database = quoted_name(views.database)
        if not views.created:
            catalog.query("CREATE DATABASE IF NOT EXISTS " + database)
            views.created = True
        for table in set(views.made) - set(wanted):
            catalog.query("DROP VIEW IF EXISTS " + database + "." + quoted_name(table))
            del views.made[table]
        for table, state in wanted.items():
            if views.made.get(table) == state:
                continue
            names = [path.name[: -len(".parquet")] for path in state.files]
            files = EMPTY_PART if names == [Path(EMPTY_PART).stem] else "{" + ",".join(names) + "}.parquet"
            pattern = sql_string(str(self.root / table / files))
            catalog.query("CREATE OR REPLACE VIEW " + database + "." + quoted_name(table) + " AS SELECT * FROM file("
                          + pattern + ", Parquet, " + sql_string(state.structure) + ")")
            views.made[table] = state

    def recheck(self) -> None:
        """Check every part file again and make every view anew (after a read that blocked in the kernel)."""
        with self.lock:
            for snapshot in self._snapshots:
                if snapshot.views is None:
                    snapshot.views = self._new_views()
                else:
                    snapshot.views.made = dict.fromkeys(snapshot.views.made)
            self._states.clear()
            if self._live.holding:
                self._live.retired = True
                self._live = self._new_views()
            self._live.made = dict.fromkeys(self._live.made)

    # --- snapshots -----------------------------------------------------------------------------------
    def begin(self) -> Snapshot:
        with self.lock:
            snapshot = Snapshot()
            self._snapshots.append(snapshot)
            return snapshot

    def end(self, snapshot: Snapshot) -> None:
        with self.lock:
            if snapshot in self._snapshots:
                self._snapshots.remove(snapshot)
            if snapshot.views is not None:
                snapshot.views.retired = True
                if not snapshot.views.using and self._catalog is not None:
                    self._drop_database(snapshot.views)

    # --- sessions ------------------------------------------------------------------------------------
    def open_session(self) -> Any:
        """A chDB session of this process for one connection's queries (it sees the engine's databases)."""
        from chdb import session as chdb_session  # noqa: PLC0415 - ~200 MB; only the embedded store needs it

        return chdb_session.Session(":memory:")

    def _catalog_session(self) -> Any:
        if self._catalog is None:
            self._catalog = self.open_session()
            self._catalog.query(CATALOG_SETTINGS)
            _close_at_exit()
        return self._catalog

    def _drop_database(self, views: _Views) -> None:
        if views.created:
            from chdb import ChdbError  # noqa: PLC0415

            with contextlib.suppress(RuntimeError, ChdbError):
                self._catalog.query("DROP DATABASE IF EXISTS " + quoted_name(views.database))
        views.created = False
        views.made.clear()

    def detach(self) -> None:
        """One handle less; the last one drops the engine's databases and closes its catalog session."""
        with _ENGINES_LOCK, self.lock:
            self._handles -= 1
            if self._handles <= 0:
                self.close()

    def close(self) -> None:
        """Drop the engine's databases and close its catalog session (made again if a handle reads later)."""
        with self.lock:
            if self._catalog is None or self.pid != os.getpid():
                return
            for views in [self._live, *(snapshot.views for snapshot in self._snapshots if snapshot.views)]:
                self._drop_database(views)
            self._catalog.close()
            self._catalog = None
            self.recheck()  # a handle attached later starts from nothing the closed session made


# Engines by (process, folder); held only by their handles, so an engine nobody uses is collected.
_ENGINES: weakref.WeakValueDictionary[tuple[int, Path], Engine] = weakref.WeakValueDictionary()
_ENGINES_LOCK = threading.RLock()


def _new_lock_after_fork() -> None:
    global _ENGINES_LOCK  # noqa: PLW0603 - a lock a thread of the parent held would never be released in the child
    _ENGINES_LOCK = threading.RLock()


os.register_at_fork(after_in_child=_new_lock_after_fork)


@functools.cache
def _close_at_exit() -> None:
    """Once chDB is in use: close every engine's catalog session before the interpreter tears chDB down.

    A handle nobody closed would otherwise keep its engine's session to the interpreter's last moments,
    where closing chDB's last connection fails ("ShutdownTablesThreadPool is not initialized").
    """
    atexit.register(_close_all)


def _close_all() -> None:
    for engine in list(_ENGINES.values()):
        engine.close()


def attach(root: Path) -> Engine:
    """The engine of ``root`` in this process, made on first use; the caller :meth:`~Engine.detach`\\ es it."""
    with _ENGINES_LOCK:
        key = (os.getpid(), root)
        engine = _ENGINES.get(key)
        if engine is None:
            _ENGINES[key] = engine = Engine(root)
        engine._handles += 1  # noqa: SLF001 - the registry and the engine keep this count together
        return engine


# --- the folder's files -----------------------------------------------------------------------------
def holds_table(folder: Path) -> bool:
    """Whether a folder of the store is a table; one this account cannot look into counts (queries say why)."""
    try:
        return stat.S_ISREG((folder / SCHEMA_FILE).stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True


def part_problem(path: Path) -> str:
    """Why a part cannot be handed to chDB ("" when it can): only regular files this account may open are parts.

    Opened without following links and without blocking, so a pipe in place of a part cannot hold us.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY)
    except OSError as error:
        if os.path.islink(path):
            return "is a symbolic link, not a part file"
        return reason(error)
    try:
        mode = os.fstat(descriptor).st_mode
    finally:
        os.close(descriptor)
    if stat.S_ISREG(mode):
        return ""
    kind = ("a directory" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a file")
    return f"is {kind}, not a regular file"


def reason(error: BaseException) -> str:
    """A file error in words: "cannot be read by this account (permission denied)", "is missing"."""
    if isinstance(error, PermissionError):
        return "cannot be read by this account (permission denied)"
    if isinstance(error, (FileNotFoundError, NotADirectoryError)):
        return "is missing"
    if isinstance(error, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(error, ValueError):
        return "is damaged (not the expected JSON)"
    if isinstance(error, OSError) and error.strerror:
        return f"cannot be read ({error.strerror.lower()})"
    return "cannot be read"


def is_plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and not name.startswith(".") and name == Path(name).name


def quoted_name(name: str) -> str:
    """A database, table or column name in backquotes, any backquote or backslash in it escaped."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
