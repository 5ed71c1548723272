"""Inside one process, every connection to an embedded store is a handle on one engine (issue 18, item 5).

chDB's views belong to the process, so a snapshot pinned on one connection must hold against the writes
and the reads of every other connection of the same process, on the same thread or another.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import TableSpec, connect
from analytics.db import Database

NUMBERS = TableSpec("numbers", {"n": "UInt32"}, order_by=("n",))


def rows(*values: int) -> pa.Table:
    return pa.table({"n": pa.array(values, pa.uint32())})


def count(db: Database) -> int:
    return int(db.scalar("SELECT count() FROM numbers"))


@pytest.fixture
def store_url(tmp_path: Path) -> Iterator[str]:
    """A store holding ``numbers`` with one row."""
    url = f"chdb://{tmp_path / 'store'}"
    with connect(url) as db:
        db.create_table(NUMBERS)
        db.insert("numbers", rows(1))
    yield url


@pytest.fixture
def first(store_url: str) -> Iterator[Database]:
    with connect(store_url, read_only=True) as db:
        yield db


@pytest.fixture
def second(store_url: str) -> Iterator[Database]:
    with connect(store_url) as db:
        yield db


@pytest.mark.parametrize("second_reads", [True, False], ids=["second reads after its write", "second only writes"])
def test_a_snapshot_does_not_see_another_connections_write_until_it_ends(first: Database, second: Database,
                                                                         second_reads: bool) -> None:
    with first.snapshot():
        assert count(first) == 1
        second.insert("numbers", rows(2, 3))
        if second_reads:
            assert count(second) == 3  # the process's views now list the new part
        assert count(first) == 1
        assert first.scalar("SELECT sum(n) FROM numbers") == 1
    assert count(first) == 3


def test_a_snapshot_pins_each_table_when_first_read(first: Database, second: Database) -> None:
    with first.snapshot():
        second.insert("numbers", rows(2))  # before the snapshot's first read: seen
        assert count(first) == 2
        second.insert("numbers", rows(3))
        assert count(second) == 3 and count(first) == 2


def test_a_snapshot_also_hides_its_own_connections_writes(second: Database) -> None:
    with second.snapshot():
        assert count(second) == 1
        second.insert("numbers", rows(2))
        assert count(second) == 1
    assert count(second) == 2


@pytest.mark.parametrize("order", ["nested", "overlapping"])
def test_two_connections_snapshots_each_hold_their_own_state(store_url: str, first: Database, second: Database,
                                                             order: str) -> None:
    """The outer snapshot (first) pins 1 row and the inner (second) 3; each ends in either order."""
    with connect(store_url) as writer:
        outer = first.snapshot()
        outer.__enter__()
        assert count(first) == 1
        writer.insert("numbers", rows(2, 3))
        with second.snapshot():
            assert count(second) == 3
            writer.insert("numbers", rows(4))
            assert count(writer) == 4
            assert (count(first), count(second)) == (1, 3)
            if order == "overlapping":  # the outer one ends first; the inner still holds
                outer.__exit__(None, None, None)
                assert count(first) == 4
            assert count(second) == 3
        if order == "nested":
            assert (count(first), count(second)) == (1, 4)
            outer.__exit__(None, None, None)
        assert (count(first), count(second)) == (4, 4)


def test_a_nested_snapshot_on_one_connection_ends_with_the_outer_one(first: Database, second: Database) -> None:
    with first.snapshot():
        assert count(first) == 1
        with first.snapshot():
            second.insert("numbers", rows(2))
            assert count(second) == 2
        assert count(first) == 1
    assert count(first) == 2


def test_a_snapshot_on_a_thread_holds_while_another_thread_writes_and_reads(first: Database, second: Database) -> None:
    pinned, written = threading.Event(), threading.Event()
    seen: dict[str, int] = {}

    def run() -> None:
        with first.snapshot():
            seen["before"] = count(first)
            pinned.set()
            assert written.wait(60)
            seen["inside"] = count(first)
        seen["after"] = count(first)

    worker = threading.Thread(target=run)
    worker.start()
    assert pinned.wait(60)
    second.insert("numbers", rows(2, 3))
    seen["other thread"] = count(second)
    written.set()
    worker.join(60)
    assert seen == {"before": 1, "other thread": 3, "inside": 1, "after": 3}


def test_threads_reading_while_another_writes_see_whole_writes(first: Database, second: Database) -> None:
    """Connections on four threads read while a fifth writes: every count is a whole number of writes."""
    stop, problems, reads = threading.Event(), [], [0]

    def read(db: Database) -> None:
        while not stop.is_set():
            with db.snapshot():
                total, again = count(db), count(db)
            if total != again or (total - 1) % 2:
                problems.append((total, again))
            reads[0] += 1

    with connect(first.url) as third, connect(first.url, read_only=True) as fourth:
        readers = [threading.Thread(target=read, args=(db,)) for db in (first, third, fourth)]
        for reader in readers:
            reader.start()
        for value in range(20):
            second.insert("numbers", rows(value, value))
            count(second)
        stop.set()
        for reader in readers:
            reader.join(60)
    assert problems == [] and reads[0] > 0
    assert count(first) == 41


def test_two_stores_with_the_same_table_names_stay_apart(tmp_path: Path, store_url: str, first: Database) -> None:
    with connect(f"chdb://{tmp_path / 'other'}") as other:
        other.create_table(NUMBERS)
        other.insert("numbers", rows(7, 8, 9, 10))
        assert count(first) == 1
        assert count(other) == 4
        assert count(first) == 1


def test_ended_snapshots_leave_no_databases_behind(first: Database, second: Database) -> None:
    databases = "SELECT count() FROM system.databases"
    before = first.scalar(databases)
    for value in range(5):
        with first.snapshot():
            count(first)
            second.insert("numbers", rows(value))
            count(second)
            count(first)  # reads its own database, made because the live views moved on
    assert first.scalar(databases) == before
