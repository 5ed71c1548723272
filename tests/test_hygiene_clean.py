"""Cleaning a contact list: a generated 100,000-row Windows-1251 file with planted duplicates on both backends,
Stop half way, rows that cannot be read, saving a list twice, and a save killed before its commit."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from analytics.crm.tables import COMPANIES, CRM_TABLES, LEDGER, ensure_tables
from analytics.db import Database, connect
from analytics.hygiene import clean, dedup, lists, sample
from analytics.hygiene.read import Source, read_source

LIB = Path(__file__).resolve().parents[1] / "lib"
MAPPING = clean.Mapping(phone="Телефон", email="Эл. почта", inn="ИНН", name="ФИО")


def emptied(url: str) -> Iterator[Database]:
    with connect(url) as db:
        for spec in (*CRM_TABLES, lists.LISTS, lists.LIST_ROWS):
            db.drop_table(spec.name)
        yield db


@pytest.fixture
def store(db_url: str) -> Iterator[Database]:
    """The store on both backends, without CRM tables or saved lists."""
    yield from emptied(db_url)


def test_a_100k_windows_1251_list_adds_up_and_every_planted_duplicate_is_found(store: Database, tmp_path: Path) -> None:
    truth = sample.generate(tmp_path / "contacts.csv", 100_000, stored_extra=20_000)
    assert dedup.stored_keys(store).keys == dedup.Stored().keys  # no CRM tables, no lists: nothing stored
    sample.store_contacts(store, truth.contacts)
    stored = dedup.stored_keys(store)
    source = read_source(truth.path)
    assert source.encoding.replace("-", "").lower() in ("cp1251", "windows1251") and source.delimiter == ";"
    done: list[tuple[int, int]] = []
    outcome = clean.clean_rows(source, MAPPING, clean.Options(split_by_kind=True), stored,
                               progress=lambda rows, total: done.append((rows, total)))

    assert outcome.clean.num_rows + outcome.duplicates.num_rows + outcome.rejected.num_rows == 100_000
    every = [*outcome.clean.column("row").to_pylist(), *outcome.duplicates.column("row").to_pylist(),
             *outcome.rejected.column("row").to_pylist()]
    assert sorted(every) == list(range(2, 100_002))
    assert (outcome.total, outcome.looked_at, outcome.not_looked_at, outcome.stopped) == (100_000, 100_000, 0, False)
    assert done[0] == (10_000, 100_000) and done[-1] == (100_000, 100_000) and len(done) == 10

    assert len(truth.duplicate_of) >= 9_000 and 4_000 < truth.in_file < 6_000
    found = dict(zip(outcome.duplicates.column("row").to_pylist(), outcome.duplicates.column("duplicate of").to_pylist(),
                     strict=True))
    assert set(found) == set(truth.duplicate_of)
    wrong = {row: (found[row], what) for row, what in truth.duplicate_of.items() if not found[row].startswith(what + " ")}
    assert not wrong
    assert set(outcome.rejected.column("row").to_pylist()) == truth.rejected
    assert all(outcome.rejected.column("reason").to_pylist())

    first_seen = {row: seen for row, seen in zip(outcome.duplicates.column("row").to_pylist(),
                                                 outcome.duplicates.column("first seen").to_pylist(), strict=True)}
    contact = next(row for row, what in truth.duplicate_of.items() if what.startswith("CRM contact "))
    number = int(truth.duplicate_of[contact].split()[-1])
    assert first_seen[contact] == truth.contacts[number - 1]["created_at"]
    assert set(outcome.clean.column("goes to").to_pylist()) == {"contact", "company"}


def test_stop_half_way_gives_the_rows_done_and_counts_the_rest(tmp_path: Path) -> None:
    truth = sample.generate(tmp_path / "contacts.csv", 20_000)
    stop = threading.Event()

    def progress(rows: int, total: int) -> None:
        if rows >= total // 2:
            stop.set()

    outcome = clean.clean_rows(read_source(truth.path), MAPPING, clean.Options(chunk_rows=1_000), None,
                               progress=progress, cancelled=stop)
    assert outcome.stopped and (outcome.looked_at, outcome.not_looked_at, outcome.total) == (10_000, 10_000, 20_000)
    tables = (outcome.clean, outcome.duplicates, outcome.rejected)
    assert sum(table.num_rows for table in tables) == 10_000
    assert max(max(table.column("row").to_pylist(), default=0) for table in tables) == 10_001
    assert "10,000 rows not looked at" in outcome.summary


def _source(rows: list[dict[str, str | None]], unreadable: list[tuple[int, str, str]] | None = None) -> Source:
    table = pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in rows[0]})
    return Source(table, pa.array(range(2, len(rows) + 2), pa.uint32()), "utf-8", ";", unreadable or [])


def test_small_rows_each_land_where_the_rules_say_with_the_reason() -> None:
    source = _source([
        {"tel": "8 (912) 345-67-89", "mail": "Anna@Mail.ru", "inn": None},
        {"tel": "+7 912 3456789", "mail": None, "inn": None},
        {"tel": None, "mail": "ANNA@mail.RU", "inn": None},
        {"tel": "не знаю", "mail": "ok@mail.ru", "inn": None},
        {"tel": None, "mail": None, "inn": None},
        {"tel": "garbage", "mail": "nope", "inn": "7700000000"},
    ], unreadable=[(9, "\x00\x01binary", "not text in any encoding we read")])
    outcome = clean.clean_rows(source, clean.Mapping(phone="tel", email="mail", inn="inn"))
    assert outcome.clean.column("row").to_pylist() == [2]
    assert outcome.clean.column("phone (clean)").to_pylist() == ["+79123456789"]
    assert outcome.duplicates.column("duplicate of").to_pylist() == ["row 2 (same phone)", "row 2 (same e-mail)"]
    rejected = outcome.rejected.select(["row", "original value", "reason"]).to_pylist()
    assert rejected[0] == {"row": 5, "original value": "не знаю", "reason": "phone: not a number"}
    assert rejected[1] == {"row": 6, "original value": None, "reason": "no phone, e-mail or INN"}
    assert rejected[2]["row"] == 7 and rejected[2]["reason"].count("; ") == 2
    assert rejected[3] == {"row": 9, "original value": "\x00\x01binary", "reason": "not text in any encoding we read"}
    assert outcome.total == 7 and outcome.looked_at == 7


def test_a_mapping_needs_a_key_column_and_columns_the_file_has() -> None:
    with pytest.raises(clean.MappingError, match="phones, e-mails or INNs"):
        clean.Mapping(name="ФИО")
    with pytest.raises(clean.MappingError, match="no column «Phone»"):
        clean.clean_rows(_source([{"tel": "1"}]), clean.Mapping(phone="Phone"))


def test_a_list_saved_twice_is_stored_once_and_the_next_file_dedups_against_it(store: Database, tmp_path: Path) -> None:
    truth = sample.generate(tmp_path / "contacts.csv", 3_000)
    source = read_source(truth.path)
    outcome = clean.clean_rows(source, MAPPING, clean.Options(split_by_kind=True), dedup.stored_keys(store))
    first = lists.save_list(store, "spring", outcome.clean, user="anna")
    again = lists.save_list(store, "spring", outcome.clean, user="anna")
    assert (first.new, first.version, again.new, again.version) == (True, 1, False, 1)
    assert "already saved as list «spring» version 1" in again.message
    assert store.scalar("SELECT count() FROM contact_list_rows") == outcome.clean.num_rows
    assert store.scalar("SELECT count() FROM contact_lists") == 1

    second = clean.clean_rows(source, MAPPING, clean.Options(), dedup.stored_keys(store))
    assert second.clean.num_rows == 0
    assert second.duplicates.num_rows == outcome.clean.num_rows + outcome.duplicates.num_rows
    day = f"{dt.datetime.now(dt.UTC):%d.%m.%Y}"
    assert second.duplicates.column("duplicate of")[0].as_py().startswith(f"list «spring» v1, saved {day} (same ")


KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from analytics.db import connect
    from analytics.hygiene import clean, lists, sample
    from analytics.hygiene.read import read_source
    truth = sample.generate(Path(sys.argv[2]), 3_000)
    mapping = clean.Mapping(phone="Телефон", email="Эл. почта", inn="ИНН", name="ФИО")
    outcome = clean.clean_rows(read_source(truth.path), mapping)
    with connect(sys.argv[1]) as db:
        lists.save_list(db, "spring", outcome.clean, user="anna",
                        before_commit=lambda: os.kill(os.getpid(), signal.SIGKILL))
""")


def test_a_save_killed_before_its_commit_leaves_nothing_visible_and_a_rerun_saves_once(
        store: Database, db_url: str, tmp_path: Path) -> None:
    child = subprocess.run([sys.executable, "-c", KILLED_SAVE, db_url, str(tmp_path / "contacts.csv")],
                           env={**os.environ, "PYTHONPATH": str(LIB)}, timeout=300, check=False)
    assert child.returncode == -signal.SIGKILL
    written = store.scalar("SELECT count() FROM contact_list_rows")
    assert written > 2_000  # the rows are in the table, but no commit names them
    assert lists.LEDGER.current(store, {"list": "spring"}) is None
    assert len(dedup.stored_keys(store)) == 0

    outcome = clean.clean_rows(read_source(tmp_path / "contacts.csv"), MAPPING)
    saved = lists.save_list(store, "spring", outcome.clean, user="anna")
    assert (saved.new, saved.version, saved.rows) == (True, 1, outcome.clean.num_rows)
    assert not lists.save_list(store, "spring", outcome.clean, user="anna").new
    visible = store.scalar("SELECT count() FROM contact_list_rows WHERE " + lists.LEDGER.committed(current=True))
    assert visible == outcome.clean.num_rows
    assert len(dedup.stored_keys(store)) > 0


def _store_companies(db: Database, versions: list[dict]) -> None:
    """Company versions as one committed loader batch (what the amoCRM loader would write)."""
    ensure_tables(db)
    write_id = LEDGER.write_id()
    now = dt.datetime(2026, 1, 1)
    count = len(versions)
    defaults = {"responsible_user_id": 0, "email": "", "emails": "", "is_deleted": 0, "write_id": write_id,
                "loaded_at": now}
    columns = {name: [version.get(name, defaults.get(name)) for version in versions] for name in COMPANIES.columns}
    LEDGER.add_rows(db, COMPANIES, COMPANIES.arrow(columns), write_id, "companies")
    LEDGER.commit(db, {"entity": "companies", "batch": LEDGER.next_version(db, {"entity": "companies"}),
                       "write_id": write_id, "load_id": write_id, "mode": "full", "page": 0, "cursor_updated_at": 0,
                       "cursor_id": 0, "window_page": 0, "since": 0, "done": 1, "reported": count, "rows": count,
                       "started_at": now, "committed_at": now, "committed_by": "test"})


def test_stored_companies_match_by_inn_and_every_phone_first_seen_at_their_first_version(store: Database) -> None:
    zero = dt.datetime(1970, 1, 1)
    first, later = dt.datetime(2025, 3, 2, 9, 30), dt.datetime(2025, 6, 1, 12, 0)
    _store_companies(store, [
        {"id": 7, "updated_at": first, "created_at": zero, "name": "Ромашка", "phone": "8 (495) 123-45-67",
         "phones": "8 (495) 123-45-67", "inn": "7700000009"},
        {"id": 7, "updated_at": later, "created_at": zero, "name": "ООО Ромашка", "phone": "8 (495) 123-45-67",
         "phones": "8 (495) 123-45-67; +7 812 555-12-34", "inn": "7700000009"},
        {"id": 8, "updated_at": later, "created_at": first, "name": "Лютик", "phone": "", "phones": "",
         "inn": "7700000009", "is_deleted": 1},
    ])
    stored = dedup.stored_keys(store)
    holder = dedup.Holder("CRM company 7 «ООО Ромашка»", first)
    assert stored.find("inn", "7700000009") == holder
    assert stored.find("phone", "+78125551234") == holder and stored.find("phone", "+74951234567") == holder
    outcome = clean.clean_rows(_source([{"tel": "+7 (812) 555-12-34", "inn": None}, {"tel": None, "inn": "7700000009"}]),
                               clean.Mapping(phone="tel", inn="inn"), clean.Options(), stored)
    assert outcome.duplicates.column("duplicate of").to_pylist() == [
        "CRM company 7 «ООО Ромашка» (same phone)", "CRM company 7 «ООО Ромашка» (same INN)"]
    assert outcome.duplicates.column("first seen").to_pylist() == [first, first]
    unchecked = clean.clean_rows(_source([{"tel": "+7 (812) 555-12-34"}]), clean.Mapping(phone="tel"),
                                 clean.Options(check_stored=False), stored)
    assert unchecked.clean.num_rows == 1
