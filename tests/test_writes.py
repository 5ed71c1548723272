"""Write semantics on both backends: tokens, keyed history, whole-partition replace and drop, compaction,
and writers killed at random moments while eight processes read.

Every scenario runs on the embedded store and on the real ClickHouse 18.16 server; where the server
lacks a primitive (an exact token under a race) the test shows what it does instead, as documented.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import random
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import Database, TableSpec, connect, load_settings
from analytics.db.manifest import read_manifest
from analytics.errors import DatabaseError

DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=offset) for offset in range(7)]
DAY_ROWS = 2_000
KEYED_ROWS = 3_000
READERS = 8


@pytest.fixture(params=["embedded", "server"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "embedded":
        return f"chdb://{tmp_path / 'store'}"
    return request.getfixturevalue("clickhouse_server").url


@pytest.fixture
def scratch(scratch_url: str) -> Iterator[Database]:
    with connect(scratch_url, load_settings(store_grace_seconds=0)) as db:
        yield db


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# --- table shapes and their invariants --------------------------------------------------------------------------

def days_spec(name: str) -> TableSpec:
    return TableSpec(name, {"day": "Date", "gen": "UInt32", "row": "UInt32"}, order_by=("day", "row"), partition_by="day")


def day_rows(day: dt.date, generation: int, rows: int = DAY_ROWS) -> pa.Table:
    return pa.table({"day": pa.array([day] * rows, pa.date32()), "gen": pa.array([generation] * rows, pa.uint32()),
                     "row": pa.array(range(rows), pa.uint32())})


def keyed_spec(name: str) -> TableSpec:
    return TableSpec(name, {"row": "UInt32", "version": "UInt32", "payload": "String"}, key=("row",), version="version")


def keyed_rows(version: int, rows: int = KEYED_ROWS) -> pa.Table:
    return pa.table({"row": pa.array(range(rows), pa.uint32()), "version": pa.array([version] * rows, pa.uint32()),
                     "payload": [f"«{version}» {row}" for row in range(rows)]})


def days_problems(db: Database, table: str) -> list[str]:
    """Each of the seven days holds exactly one generation, complete."""
    found = db.query_arrow(f"SELECT day, gen, count() AS n FROM {table} GROUP BY day, gen").to_pylist()
    by_day: dict[dt.date, list[tuple[int, int]]] = {}
    for row in found:
        by_day.setdefault(row["day"], []).append((row["gen"], row["n"]))
    problems = [f"{day}: {gens}" for day, gens in by_day.items() if len(gens) != 1 or gens[0][1] != DAY_ROWS]
    if sorted(by_day) != DAYS:
        problems.append(f"days present: {sorted(by_day)}")
    return problems


def keyed_problems(db: Database, table: str) -> list[str]:
    """Every version is complete, and the current rows (one read) are all of a single version."""
    versions = db.query_arrow(f"SELECT version, count() AS n FROM {table} GROUP BY version").to_pylist()
    torn = [f"version {row['version']} has {row['n']} rows" for row in versions if row["n"] != KEYED_ROWS]
    current = db.query_arrow("SELECT count() AS n, uniqExact(version) AS versions FROM "
                             + keyed_spec(table).current(["row", "version"])).to_pylist()[0]
    if current != {"n": KEYED_ROWS, "versions": 1}:
        torn.append(f"current rows: {current}")
    return torn


def totals_problems(db: Database, table: str, expected: dict) -> list[str]:
    found = db.query_arrow(f"SELECT count() AS n, sum(row) AS s, uniqExact(gen, row) AS u FROM {table}").to_pylist()[0]
    return [] if found == expected else [f"totals {found} != {expected}"]


CHECKS: dict[str, Callable[..., list[str]]] = {"days": days_problems, "keyed": keyed_problems, "totals": totals_problems}


# --- worker processes (module level, for the spawn context) ---------------------------------------------------------

def read_until_stopped(url: str, check: str, table: str, stop: object, extra: dict | None = None) -> tuple[int, list[str]]:
    queries, problems = 0, []
    with connect(url) as db:
        while not stop.is_set() or queries < 2:  # type: ignore[attr-defined]
            args = (db, table) if extra is None else (db, table, extra)
            problems += CHECKS[check](*args)
            queries += 1
    return queries, problems


def replace_days_forever(url: str, table: str, started: object) -> None:
    with connect(url) as db:
        for generation in range(1, 10_000):
            db.replace_partitions(table, {day: day_rows(day, generation) for day in DAYS})
            started.set()  # type: ignore[attr-defined]


def insert_versions_forever(url: str, table: str, started: object) -> None:
    with connect(url) as db:
        version = int(db.scalar(f"SELECT max(version) FROM {table}") or 0)
        while True:
            version += 1
            db.insert(table, keyed_rows(version))
            started.set()  # type: ignore[attr-defined]


def compact_once(url: str, table: str, started: object) -> None:
    with connect(url) as db:
        started.set()  # type: ignore[attr-defined]
        db.compact(table)
        time.sleep(60)  # the kill may come after the compaction finished, which must be fine too


def insert_with_token(url: str, table: str, go: object, token: str) -> int:
    with connect(url) as db:
        go.wait(30)  # type: ignore[attr-defined]
        return db.insert(table, keyed_rows(1, 10_000), token=token)


def insert_single_rows(url: str, table: str, first: int, count: int, compact_after_parts: int = 64) -> None:
    with connect(url, load_settings(compact_after_parts=compact_after_parts)) as db:
        for row in range(first, first + count):
            db.insert(table, pa.table({"day": pa.array([DAYS[row % 7]], pa.date32()), "gen": pa.array([row % 3], pa.uint32()),
                                       "row": pa.array([row], pa.uint32())}))


def when_told(go: object, writer: Callable, url: str, table: str, started: object) -> None:
    """A writer process started ahead of its turn: it begins writing when ``go`` is set."""
    go.wait()  # type: ignore[attr-defined]
    writer(url, table, started)


# --- the scenarios ---------------------------------------------------------------------------------------------------

def kill_while_reading(url: str, check: str, table: str, writer: Callable, moments: list[float],
                       extra: dict | None = None) -> list[str]:
    """Run ``writer`` once per moment, SIGKILL it after that many seconds, with eight readers checking throughout."""
    context = mp.get_context("spawn")
    problems: list[str] = []
    with context.Manager() as manager, context.Pool(READERS) as pool:
        stop = manager.Event()
        readers = [pool.apply_async(read_until_stopped, (url, check, table, stop, extra)) for _ in range(READERS)]
        writers = []
        for _ in moments:  # all spawned now, each waiting for its turn: their start-up overlaps the readers'
            go, started = context.Event(), context.Event()
            process = context.Process(target=when_told, args=(go, writer, url, table, started))
            process.start()
            writers.append((process, go, started))
        for moment, (process, go, started) in zip(moments, writers, strict=True):
            go.set()
            assert started.wait(120), "the writer never committed anything"
            time.sleep(moment)
            os.kill(process.pid, signal.SIGKILL)
            process.join()
        stop.set()
        for result in readers:
            queries, found = result.get(timeout=300)
            assert queries >= 2
            problems += found
    return problems


def test_kill_during_seven_day_replace(scratch: Database, scratch_url: str) -> None:
    table = unique("kill_days")
    scratch.create_table(days_spec(table))
    scratch.insert(table, pa.concat_tables([day_rows(day, 0) for day in DAYS]))
    pick = random.Random(7)  # one generator: three different moments (a new one per moment gave one moment thrice)
    moments = [pick.uniform(0.05, 1.5) for _ in range(3)]
    assert kill_while_reading(scratch_url, "days", table, replace_days_forever, moments) == []
    assert days_problems(scratch, table) == []
    scratch.replace_partitions(table, {day: day_rows(day, 99) for day in DAYS})  # the lock was released
    assert days_problems(scratch, table) == [] and scratch.query_arrow(f"SELECT DISTINCT gen FROM {table}").to_pylist() == [
        {"gen": 99}]
    scratch.collect_garbage()
    assert_no_leftovers(scratch, table)


def test_kill_during_keyed_insert(scratch: Database, scratch_url: str) -> None:
    table = unique("kill_keyed")
    scratch.create_table(keyed_spec(table))
    scratch.insert(table, keyed_rows(1))
    pick = random.Random(8)  # one generator: three different moments (a new one per moment gave one moment thrice)
    moments = [pick.uniform(0.05, 1.0) for _ in range(3)]
    assert kill_while_reading(scratch_url, "keyed", table, insert_versions_forever, moments) == []
    assert keyed_problems(scratch, table) == []
    scratch.collect_garbage()
    assert_no_leftovers(scratch, table)


def test_kill_during_compaction(scratch: Database, scratch_url: str) -> None:
    table = unique("kill_compact")
    with connect(scratch_url, load_settings(compact_after_parts=0)) as db:
        db.create_table(days_spec(table))
        for batch in range(150):
            db.insert(table, day_rows(DAYS[batch % 7], batch, 200))
        before = db.part_count(table)
    expected = scratch.query_arrow(f"SELECT count() AS n, sum(row) AS s, uniqExact(gen, row) AS u FROM {table}").to_pylist()[0]
    pick = random.Random(9)  # one generator: three different moments (a new one per moment gave one moment thrice)
    moments = [pick.uniform(0.0, 0.8) for _ in range(3)]
    assert kill_while_reading(scratch_url, "totals", table, compact_once, moments, expected) == []
    assert totals_problems(scratch, table, expected) == []
    scratch.compact(table)
    assert scratch.part_count(table) <= 7 < before  # one part per day at most
    assert totals_problems(scratch, table, expected) == []
    scratch.collect_garbage()
    assert_no_leftovers(scratch, table)


def assert_no_leftovers(db: Database, table: str) -> None:
    """After garbage collection (grace 0) only listed parts and the table's own files remain."""
    if db.kind != "embedded":
        assert not [name for name in db._all_tables() if name.startswith("_analytics_stage_")]  # type: ignore[attr-defined]
        return
    folder = db.root / table  # type: ignore[attr-defined]
    listed = set(read_manifest(folder).names)
    present = {entry.name for entry in folder.iterdir()}
    own = {"schema.json", "manifest.json", "empty.parquet", "retired.log", ".lock", ".compact.lock"}
    assert listed <= present and present - listed <= own, present - listed - own


def test_a_token_makes_a_retry_a_no_op(scratch: Database) -> None:
    table = unique("tokens")
    scratch.create_table(keyed_spec(table))
    assert scratch.write(table, keyed_rows(1, 10), token="job:2026-10-01").rows == 10
    again = scratch.write(table, keyed_rows(1, 10), token="job:2026-10-01")
    assert again.rows == 0 and again.duplicate
    assert scratch.insert(table, keyed_rows(2, 10), token="job:2026-10-02") == 10
    assert scratch.scalar(f"SELECT count() FROM {table}") == 20
    with pytest.raises(DatabaseError, match="token"):
        scratch.insert(table, keyed_rows(3, 1), token="")


def test_a_table_dropped_and_made_again_forgets_its_tokens(scratch: Database) -> None:
    table = unique("reborn")  # a reset (the CRM loader's tables dropped) must not make its first write a no-op
    scratch.create_table(keyed_spec(table))
    assert scratch.insert(table, keyed_rows(1, 5), token="first-batch") == 5
    scratch.drop_table(table)
    scratch.create_table(keyed_spec(table))
    assert scratch.insert(table, keyed_rows(1, 5), token="first-batch") == 5


def test_two_processes_racing_with_one_token_leave_one_copy(scratch: Database, scratch_url: str) -> None:
    table = unique("race")
    scratch.create_table(keyed_spec(table))
    context = mp.get_context("spawn")
    with context.Manager() as manager, context.Pool(2) as pool:
        go = manager.Event()
        results = [pool.apply_async(insert_with_token, (scratch_url, table, go, "the-token")) for _ in range(2)]
        time.sleep(3)  # both processes are connected and waiting
        go.set()
        written = sorted(result.get(timeout=120) for result in results)
    current = scratch.scalar("SELECT count() FROM " + keyed_spec(table).current(["row"]))
    assert current == 10_000  # readers of current rows see one copy on both backends
    if scratch.kind == "embedded":
        assert written == [0, 10_000]  # decided under the table lock: exactly one writer committed
        assert scratch.scalar(f"SELECT count() FROM {table}") == 10_000
    else:  # 18.16 has no atomic check-and-insert: a racing copy may land, and it collapses on merge
        scratch.compact(table)
        assert scratch.scalar(f"SELECT count() FROM {table}") == 10_000


def test_keyed_history_keeps_every_version(scratch: Database) -> None:
    table = unique("history")
    spec = keyed_spec(table)
    scratch.create_table(spec)
    for version in (1, 3, 2):
        scratch.insert(table, keyed_rows(version, 5))
    assert scratch.scalar(f"SELECT count() FROM {table}") == 15
    current = scratch.query("SELECT row, version, payload FROM " + spec.current() + " ORDER BY row")
    assert current.version.tolist() == [3] * 5 and current.payload[0] == "«3» 0"
    argmax = scratch.query(f"SELECT row, argMax(payload, version) AS payload FROM {table} GROUP BY row ORDER BY row")
    assert argmax.payload.tolist() == current.payload.tolist()


def test_replace_and_drop_whole_partitions(scratch: Database) -> None:
    table = unique("days")
    scratch.create_table(days_spec(table))
    scratch.insert(table, pa.concat_tables([day_rows(day, 0, 10) for day in DAYS]))
    assert scratch.replace_partitions(table, {DAYS[0]: day_rows(DAYS[0], 1, 4), "2026-10-02": day_rows(DAYS[1], 1, 3),
                                              "20261003": day_rows(DAYS[2], 0, 0)}) == 7
    assert scratch.partitions(table) == {"20261001": 4, "20261002": 3, **{f"{d:%Y%m%d}": 10 for d in DAYS[3:]}}
    with pytest.raises(DatabaseError, match="Rows for partition 20261005"):
        scratch.replace_partitions(table, {DAYS[3]: day_rows(DAYS[4], 2, 5)})
    assert scratch.partitions(table)["20261004"] == 10  # the refused replace changed nothing
    scratch.drop_partitions(table, [DAYS[5], "20261007"])
    assert list(scratch.partitions(table)) == ["20261001", "20261002", "20261004", "20261005"]
    with pytest.raises(DatabaseError, match="does not name a partition"):
        scratch.drop_partitions(table, ["yesterday"])
    plain = unique("plain")
    scratch.create_table(TableSpec(plain, {"x": "UInt8"}))
    with pytest.raises(DatabaseError, match="has no partitions"):
        scratch.replace_partitions(plain, {DAYS[0]: pa.table({"x": pa.array([1], pa.uint8())})})


SINGLE_ROW_INSERTS = 1_000  # benchmarks/writes.py measures 10,000; a thousand prove the same in a tenth of the time
AUTO_COMPACT_AFTER = 32  # below the shipped 64, so the thousand inserts still merge automatically about 40 times


def test_single_row_inserts_from_two_writers_then_compaction(scratch: Database, scratch_url: str) -> None:
    """Two writers' single-row inserts all land while the store merges behind them; compaction keeps every answer."""
    table = unique("small_inserts")
    scratch.create_table(days_spec(table))
    half = SINGLE_ROW_INSERTS // 2
    context = mp.get_context("spawn")
    with context.Pool(2) as pool:  # two writers at once, as two kernels would
        jobs = [pool.apply_async(insert_single_rows, (scratch_url, table, first, half, AUTO_COMPACT_AFTER))
                for first in (0, half)]
        for job in jobs:
            job.get(timeout=600)
    for day in DAYS:  # one more part per day, below any threshold: the explicit compaction below always has work
        scratch.insert(table, pa.table({"day": pa.array([day], pa.date32()), "gen": pa.array([9], pa.uint32()),
                                        "row": pa.array([SINGLE_ROW_INSERTS], pa.uint32())}))
    total = SINGLE_ROW_INSERTS + len(DAYS)
    questions = [f"SELECT count(), sum(row), uniqExact(row, day) FROM {table}",
                 f"SELECT day, gen, count(), max(row) FROM {table} GROUP BY day, gen ORDER BY day, gen"]
    before = [scratch.query_arrow(sql).to_pylist() for sql in questions]
    assert list(before[0][0].values()) == [total, sum(range(SINGLE_ROW_INSERTS)) + SINGLE_ROW_INSERTS * len(DAYS), total]
    parts = scratch.part_count(table)
    if scratch_url.startswith("chdb"):  # the automatic merges ran: far fewer parts than inserts
        assert len(DAYS) < parts < SINGLE_ROW_INSERTS // 4, parts
    scratch.compact(table)
    assert scratch.part_count(table) <= 7 < parts
    assert [scratch.query_arrow(sql).to_pylist() for sql in questions] == before


def test_a_bulk_insert_of_many_small_chunks_lands_as_one_block(scratch: Database) -> None:
    """The server gets one INSERT for a call of 100 small chunks (not one per chunk); the store writes one part."""
    table = unique("bulk")
    scratch.create_table(TableSpec(table, {"row": "UInt32"}))
    chunks = (pa.table({"row": pa.array(range(start, start + 1_000), pa.uint32())}) for start in range(0, 100_000, 1_000))
    assert scratch.insert(table, chunks) == 100_000
    assert scratch.part_count(table) == 1


def test_the_embedded_store_reads_ten_thousand_parts_before_compaction(tmp_path: Path) -> None:
    """A view lists every part in its file pattern; 10,000 of them still make a valid query (max_query_size)."""
    from analytics.db.manifest import Part, committing

    with connect(f"chdb://{tmp_path / 'store'}", load_settings(compact_after_parts=0)) as db:
        db.create_table(TableSpec("many", {"row": "UInt32"}))
        db.insert("many", pa.table({"row": pa.array([7], pa.uint32())}))
        folder = db.root / "many"  # type: ignore[attr-defined]
        with committing(folder) as manifest:
            original = manifest.parts[0]
            for copy in range(1, 10_000):  # hard links of the one part: 10,000 listed parts in a second
                name = f"part-{copy:020d}-{'0' * 12}.parquet"
                os.link(folder / original.name, folder / name)
                manifest.parts.append(Part(name, 1, original.size))
        assert db.part_count("many") == 10_000
        assert db.query_arrow("SELECT count() AS n, sum(row) AS s FROM many").to_pylist() == [{"n": 10_000, "s": 70_000}]
        db.compact("many")
        assert db.part_count("many") == 1
        assert db.query_arrow("SELECT count() AS n, sum(row) AS s FROM many").to_pylist() == [{"n": 10_000, "s": 70_000}]
