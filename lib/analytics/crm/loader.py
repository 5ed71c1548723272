"""The amoCRM load: pages in, big batches out, a checkpoint with every batch, resumable after a kill.

For each stream (:mod:`analytics.crm.entities`) the loader

1. takes the stream's lock (two loads of one stream in one home would write the same versions twice; another
   stream may load beside it, under the shared rate limit of :class:`analytics.clients.amocrm.RateLimit`);
2. finds where to start: an unfinished load of the same kind resumes from its last committed checkpoint and
   the pages spooled after it; a load of changes starts a few minutes (:data:`OVERLAP`) before the newest
   update time the last finished load committed; a full load starts at the beginning;
3. reads pages of 250 in update-time order. After each page the cursor (update time and id of its last
   entity) moves on and the next page is asked ``filter[updated_at][from]=<cursor>``, page 1: an entity
   edited during the load moves to the end of the list instead of shifting the pages still to come (page
   numbers over a changing list skip entities), and equal update times are paged through, never skipped;
4. spools each page to disk with its checkpoint, and every :data:`BATCH_ROWS` rows inserts the versions not
   stored yet in one insert, then commits the batch's checkpoint row (the ledger protocol of
   :mod:`analytics.ledger`): the rows count only once the checkpoint names them.

A kill at any moment loses nothing: pages spooled are not fetched again, a batch inserted but not committed
stays invisible and is written again under a new write id, and a version stored once is never stored twice.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..clients.amocrm import PAGE_SIZE, AmoCRM, AmoCRMBlocked
from ..db import Database
from ..errors import AnalyticsError
from ..exports.files import private_folder
from . import store
from .entities import Entity
from .spool import Page, Spool
from .tables import LEDGER, ensure_tables

BATCH_ROWS = 50_000  # rows per insert: ClickHouse wants big blocks, and a batch's pages wait on disk meanwhile
OVERLAP = 300  # seconds a load of changes reaches back before the last committed cursor (clocks, late writes)
MODES = ("full", "changes")


class LoadBusy(AnalyticsError):
    """Another load of the same stream is running in this home."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass
class Cursor:
    """Where one stream's load stands: what its checkpoint row records, and what a resumed load reads back."""

    load_id: str
    mode: str
    started_at: dt.datetime
    page: int = 0  # pages read by this load so far
    updated_at: int | None = None  # the cursor: the newest update time read (None: no filter yet)
    cursor_id: int = 0
    window_page: int = 1  # the page to ask next from the cursor (above 1 only within one update time)
    since: int = 0  # a load of changes: from this update time
    reported: int = 0  # entities amoCRM listed to this load
    unfiltered: bool = False  # the account ignores filter[updated_at]: plain page numbers over the whole list

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "started_at": self.started_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cursor:
        return cls(**{**data, "started_at": dt.datetime.fromisoformat(data["started_at"])})

    @classmethod
    def from_checkpoint(cls, row: dict[str, Any]) -> Cursor:
        return cls(row["load_id"], row["mode"], row["started_at"], int(row["page"]),
                   int(row["cursor_updated_at"]) if row["page"] else None, int(row["cursor_id"]),
                   int(row["window_page"]) or 1, int(row["since"]), int(row["reported"]))


@dataclass
class StreamResult:
    """What one stream's load did, for the page's table and its reconciliation line."""

    entity: Entity
    mode: str
    resumed_at: int = 0  # the page a resumed load started from (0: a new load)
    pages: int = 0  # read by this run
    last_page: int = 0  # the load's page count where this run ended
    reported: int = 0
    written: int = 0  # new versions stored
    batches: int = 0
    inserts: int = 0
    finished: bool = False
    skipped: str = ""
    live: int = 0
    gone: int = 0
    unfiltered: bool = False


@dataclass
class Loader:
    """One load of some streams from one account into one store; ``home`` holds the spool and the locks."""

    client: AmoCRM
    writer: Database
    home: Path
    user: str = ""
    batch_rows: int = BATCH_ROWS
    say: Callable[[str], None] = lambda text: None
    cancelled: threading.Event = field(default_factory=threading.Event)
    now: Callable[[], dt.datetime] = utc_now
    stopped: bool = False

    def run(self, streams: list[Entity], mode: str) -> list[StreamResult]:
        """Load each stream in turn; Stop ends after the page being read, its batch committed."""
        if mode not in MODES:
            raise AnalyticsError(f"A load is 'full' or 'changes', not '{mode}'.")
        ensure_tables(self.writer)
        results = []
        for entity in streams:
            if self.cancelled.is_set():
                self.stopped = True
                break
            results.append(self._one(entity, mode))
        return results

    def _one(self, entity: Entity, mode: str) -> StreamResult:
        try:
            with self._lock(entity):
                result = self._stream(entity, mode) if entity.by_time else self._whole(entity, mode)
        except LoadBusy as busy:
            result = StreamResult(entity, mode, skipped=str(busy))
        result.live, result.gone = store.current_count(self.writer, entity.table, entity.key)
        return result

    # --- lists read by update time -----------------------------------------------------------
    def _stream(self, entity: Entity, mode: str) -> StreamResult:
        spool = Spool(self.home / ".crm-spool" / entity.name)
        cursor, pages = self._start(entity, mode, spool)
        result = StreamResult(entity, cursor.mode, resumed_at=cursor.page + 1 if cursor.page else 0)
        buffered: list[Page] = list(pages)
        try:
            while True:
                if self.cancelled.is_set():
                    self.stopped = True
                    break
                answer = self.client.get(entity.path, self._params(entity, cursor))
                items = list((answer or {}).get("_embedded", {}).get(entity.embedded, []))
                if not items:
                    result.finished = True
                    break
                page = self._read(entity, cursor, items)
                spool.add(page)
                buffered.append(page)
                result.pages += 1
                self.say(f"{entity.words}: page {cursor.page}, {cursor.reported:,} so far")
                if not (answer or {}).get("_links", {}).get("next"):
                    result.finished = True
                    break
                if sum(len(page.rows) for page in buffered) >= self.batch_rows:
                    self._commit(entity, cursor, buffered, spool, result, done=False)
                    buffered = []
        except AmoCRMBlocked:
            self._commit(entity, cursor, buffered, spool, result, done=False)  # what came before the block is kept
            raise
        except Exception:
            if buffered:  # an outage or a bug mid-load: the pages read so far are committed, the next run goes on
                self._commit(entity, cursor, buffered, spool, result, done=False)
            raise
        self._commit(entity, cursor, buffered, spool, result, done=result.finished)
        result.reported, result.unfiltered, result.last_page = cursor.reported, cursor.unfiltered, cursor.page
        return result

    def _start(self, entity: Entity, mode: str, spool: Spool) -> tuple[Cursor, list[Page]]:
        """Resume an unfinished load of this kind (its checkpoint, then its spooled pages) or begin a new one."""
        last = LEDGER.current(self.writer, {"entity": entity.name})
        pages = spool.pages()
        if last and not last["done"] and last["mode"] == mode:
            cursor = Cursor.from_checkpoint(last)
            later = [page for page in pages if page.checkpoint.get("load_id") == cursor.load_id
                     and page.number > cursor.page]
            spool.drop(cursor.page, cursor.load_id)
            if later:
                cursor = Cursor.from_json(later[-1].checkpoint)
            return cursor, later
        if pages and pages[0].checkpoint.get("mode") == mode and (last is None or
                                                                   pages[0].checkpoint["load_id"] != last["load_id"]):
            spool.drop(0, pages[-1].checkpoint["load_id"])  # a load killed before its first batch: its pages go on
            kept = spool.pages()
            if kept:
                return Cursor.from_json(kept[-1].checkpoint), kept
        spool.clear()
        cursor = Cursor(LEDGER.write_id(), mode, self.now())
        if mode == "changes":
            done = self._last_finished(entity)
            if done is None:  # nothing loaded yet: the first load of changes is everything
                cursor.mode = "full"
            else:
                cursor.since = max(int(done["cursor_updated_at"]) - OVERLAP, 0)
                cursor.updated_at = cursor.since
        return cursor, []

    def _last_finished(self, entity: Entity) -> dict[str, Any] | None:
        rows = self.writer.query_arrow(
            "SELECT cursor_updated_at FROM crm_checkpoints WHERE entity = %(entity)s AND done = 1 AND "
            + LEDGER.committed() + " ORDER BY batch DESC LIMIT 1", {"entity": entity.name}).to_pylist()
        return rows[0] if rows else None

    @staticmethod
    def _params(entity: Entity, cursor: Cursor) -> dict[str, Any]:
        params: dict[str, Any] = {**entity.params, "order[updated_at]": "asc", "page": cursor.window_page,
                                  "limit": PAGE_SIZE}
        if cursor.updated_at is not None and not cursor.unfiltered:
            params["filter[updated_at][from]"] = cursor.updated_at
        return params

    def _read(self, entity: Entity, cursor: Cursor, items: list[dict[str, Any]]) -> Page:
        """Count the page's new entities, move the cursor past it, and make its rows."""
        if self._filter_ignored(cursor, items) and not cursor.unfiltered:
            cursor.unfiltered, cursor.window_page = True, 1  # read the plain list from its start; stored ones dedup
        before = (cursor.updated_at if cursor.updated_at is not None else -1, cursor.cursor_id)
        cursor.reported += sum(1 for item in items if (int(item["updated_at"]), int(item["id"])) > before)
        last = items[-1]
        cursor.page += 1
        if cursor.unfiltered:
            cursor.window_page += 1
            newest = max(int(item["updated_at"]) for item in items)
            cursor.updated_at, cursor.cursor_id = max(newest, cursor.updated_at or 0), int(last["id"])
        elif cursor.updated_at is None or int(last["updated_at"]) > cursor.updated_at:
            cursor.updated_at, cursor.cursor_id, cursor.window_page = int(last["updated_at"]), int(last["id"]), 1
        else:  # a whole page of one update time: page on within it
            cursor.cursor_id, cursor.window_page = int(last["id"]), cursor.window_page + 1
        return Page(cursor.page, cursor.to_json(), entity.rows(items, self.now()))

    @staticmethod
    def _filter_ignored(cursor: Cursor, items: list[dict[str, Any]]) -> bool:
        """amoCRM filters are a paid option on some accounts: a filtered page with older entities was not filtered."""
        return (cursor.updated_at is not None and not cursor.unfiltered
                and any(int(item["updated_at"]) < cursor.updated_at for item in items))

    # --- short lists read whole --------------------------------------------------------------
    def _whole(self, entity: Entity, mode: str) -> StreamResult:
        cursor = Cursor(LEDGER.write_id(), mode, self.now())
        result = StreamResult(entity, mode)
        items: list[dict[str, Any]] = []
        if entity.paged:
            for _, page in self.client.pages(entity.path, entity.embedded):
                items += page
                result.pages += 1
        else:
            answer = self.client.get(entity.path) or {}
            items = list(answer.get("_embedded", {}).get(entity.embedded, []))
            result.pages = 1
        seen_at = self.now()
        rows = entity.rows(items, seen_at)
        stored = store.current_fingerprints(self.writer, entity.table, entity.key)
        changed = [row for row in rows if stored.get(tuple(row[name] for name in entity.key)) != row["fingerprint"]]
        listed = {tuple(row[name] for name in entity.key) for row in rows}
        gone = [self._deleted_row(entity, key, seen_at) for key, print_ in stored.items() if print_ and key not in listed]
        cursor.page, cursor.reported = result.pages, len(rows)
        result.reported, result.finished = len(rows), True  # stages, not pipelines: what the store counts
        self._write(entity, cursor, changed + gone, result, done=True)
        return result

    @staticmethod
    def _deleted_row(entity: Entity, key: tuple[Any, ...], seen_at: dt.datetime) -> dict[str, Any]:
        blank = {"String": "", "DateTime": seen_at}
        row = {name: blank.get(kind, 0) for name, kind in entity.table.columns.items()}
        return {**row, **dict(zip(entity.key, key, strict=True)), "fingerprint": "deleted", "is_deleted": 1}

    # --- batches -----------------------------------------------------------------------------
    def _commit(self, entity: Entity, cursor: Cursor, pages: list[Page], spool: Spool, result: StreamResult, *,
                done: bool) -> None:
        """Insert the versions of ``pages`` not stored yet, commit the checkpoint they reach, forget their spool."""
        if not pages and not done:
            return
        rows = self._new_versions(entity, [row for page in pages for row in page.rows])
        self._write(entity, cursor, rows, result, done=done)
        spool.drop(cursor.page)
        pages.clear()

    def _new_versions(self, entity: Entity, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows whose version (key and update time) is neither earlier in the batch nor stored already."""
        if not rows:
            return []
        unique = {(*(row[name] for name in entity.key), row["updated_at"]): row for row in rows}
        low, high = min(row["updated_at"] for row in rows), max(row["updated_at"] for row in rows)
        stored = store.stored_versions(self.writer, entity.table, entity.key, low, high)
        return [row for version, row in unique.items() if version not in stored]

    def _write(self, entity: Entity, cursor: Cursor, rows: list[dict[str, Any]], result: StreamResult, *,
               done: bool) -> None:
        write_id, now = LEDGER.write_id(), self.now()
        if rows:
            table = entity.table
            values = {name: [row.get(name) for row in rows] for name in table.columns}
            values.update(write_id=[write_id] * len(rows), loaded_at=[now] * len(rows))
            LEDGER.add_rows(self.writer, table, table.arrow(values), write_id, "rows")
            result.inserts += 1
        batch = LEDGER.next_version(self.writer, {"entity": entity.name})
        LEDGER.commit(self.writer, {
            "entity": entity.name, "batch": batch, "write_id": write_id, "load_id": cursor.load_id,
            "mode": cursor.mode, "page": cursor.page, "cursor_updated_at": cursor.updated_at or 0,
            "cursor_id": cursor.cursor_id, "window_page": cursor.window_page, "since": cursor.since, "done": int(done),
            "reported": cursor.reported, "rows": len(rows), "started_at": cursor.started_at, "committed_at": now,
            "committed_by": self.user})
        result.written += len(rows)
        result.batches += 1

    # --- one load per stream -----------------------------------------------------------------
    @contextmanager
    def _lock(self, entity: Entity) -> Iterator[None]:
        path = private_folder(self.home / ".crm-locks") / f"{entity.name}.lock"
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LoadBusy(f"another load of {entity.words} is running; this one left them alone") from None
            yield
        finally:
            os.close(handle)
