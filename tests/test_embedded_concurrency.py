"""Many processes read and write the embedded store at once; a killed writer leaves nothing half-written."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from analytics import TableSpec, connect

WRITERS, READERS, BATCHES, BATCH_ROWS = 4, 8, 12, 5_000
COLUMNS = {"writer": "UInt32", "batch": "UInt32", "row": "UInt32", "payload": "String"}
LOAD = TableSpec("load", COLUMNS, order_by=("writer",))
CHECK = "SELECT count() AS rows, uniqExact(writer, batch, row) AS distinct_rows, uniqExact(writer, batch) AS batches FROM load"


def batch_table(writer: int, batch: int, rows: int = BATCH_ROWS) -> pa.Table:
    return pa.table({
        "writer": pa.array([writer] * rows, pa.uint32()), "batch": pa.array([batch] * rows, pa.uint32()),
        "row": pa.array(range(rows), pa.uint32()), "payload": [f"«строка» {writer}/{batch}/{i} 🙂" for i in range(rows)],
    })


def write(url: str, writer: int) -> int:
    with connect(url) as db:
        return sum(db.insert("load", batch_table(writer, batch)) for batch in range(BATCHES))


def read(url: str, writers_done: object) -> tuple[int, list[str]]:
    """Query until the writers are done; every snapshot must hold whole batches only."""
    problems, queries = [], 0
    with connect(url) as db:
        while not writers_done.is_set() or queries < 3:  # type: ignore[attr-defined]
            rows, distinct, batches = db.query_arrow(CHECK).to_pylist()[0].values()
            queries += 1
            if rows != distinct or rows != batches * BATCH_ROWS:
                problems.append(f"torn or duplicated: {rows} rows, {distinct} distinct, {batches} batches")
    return queries, problems


def test_eight_readers_and_four_writers_at_once(scratch_store) -> None:  # type: ignore[no-untyped-def]
    scratch_store.create_table(LOAD)
    context = mp.get_context("spawn")
    with context.Manager() as manager, context.Pool(WRITERS + READERS) as pool:
        writers_done = manager.Event()
        readers = [pool.apply_async(read, (scratch_store.url, writers_done)) for _ in range(READERS)]
        writers = [pool.apply_async(write, (scratch_store.url, writer)) for writer in range(WRITERS)]
        written = sum(result.get(timeout=120) for result in writers)
        writers_done.set()
        outcomes = [result.get(timeout=120) for result in readers]
    assert all(queries > 0 for queries, _ in outcomes)
    assert [problem for _, problems in outcomes for problem in problems] == []
    rows, distinct, batches = scratch_store.query_arrow(CHECK).to_pylist()[0].values()
    assert written == rows == distinct == WRITERS * BATCHES * BATCH_ROWS
    assert batches == WRITERS * BATCHES


def slow_chunks(started: object) -> Iterator[pa.Table]:
    for batch in range(1000):
        yield batch_table(99, batch, 1000)
        if batch == 3:
            started.set()  # type: ignore[attr-defined]
        time.sleep(0.05)


def write_slowly(url: str, started: object) -> None:
    with connect(url) as db:
        db.insert("load", slow_chunks(started))


def test_writer_killed_mid_insert_leaves_no_rows(scratch_store) -> None:  # type: ignore[no-untyped-def]
    scratch_store.create_table(LOAD)
    scratch_store.insert("load", batch_table(1, 1))
    context = mp.get_context("spawn")
    started = context.Event()
    writer = context.Process(target=write_slowly, args=(scratch_store.url, started))
    writer.start()
    assert started.wait(timeout=60), "the writer never started"
    os.kill(writer.pid, signal.SIGKILL)
    writer.join()
    assert scratch_store.query_arrow(CHECK).to_pylist()[0] == {"rows": BATCH_ROWS, "distinct_rows": BATCH_ROWS,
                                                                "batches": 1}
    leftovers = [name for name in os.listdir(scratch_store.root / "load") if name.startswith(".tmp-")]
    assert leftovers, "the killed writer should have left only its hidden temporary file"


def test_tables_made_by_another_process_are_seen(scratch_store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "load" not in scratch_store.tables()
    with connect(scratch_store.url) as other:
        other.create_table(LOAD)
        other.insert("load", batch_table(7, 0, 10))
    assert scratch_store.scalar("SELECT count() FROM load") == 10
    scratch_store.drop_table("load")
    with pytest.raises(Exception, match="load"):
        scratch_store.query("SELECT count() FROM load")
