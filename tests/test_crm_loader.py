"""The amoCRM loader against the fake account: batches with checkpoints, a kill and a resume, loading twice,
changes only, deleted leads, a block that stops at once, and two loaders under one rate limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from analytics import load_settings
from analytics.clients.amocrm import amocrm_for
from analytics.crm import store
from analytics.crm.entities import ENTITIES, streams
from analytics.crm.loader import Loader
from analytics.crm.tables import CRM_TABLES, LEADS
from analytics.db import Database, connect
from analytics.testing.fakes import FakeAmoCRM

from .conftest import wait_until

LIB = Path(__file__).resolve().parents[1] / "lib"


def emptied(url: str) -> Iterator[Database]:
    with connect(url) as db:
        for spec in CRM_TABLES:
            db.drop_table(spec.name)
        yield db


@pytest.fixture
def writer(embedded_url: str) -> Iterator[Database]:
    yield from emptied(embedded_url)


@pytest.fixture
def either_writer(db_url: str) -> Iterator[Database]:
    """The store on both backends: what the kill test must hold on each."""
    yield from emptied(db_url)


def loader(fake: FakeAmoCRM, writer: Database, home: Path, **options: object) -> Loader:
    settings = load_settings({"ANALYTICS_HOME": str(home), **fake.settings()})
    return Loader(amocrm_for(settings), writer, settings.reports_dir, user="test", **options)  # type: ignore[arg-type]


def current_leads(db: Database) -> dict[int, tuple[int, str]]:
    rows = db.query_arrow("SELECT id, toUInt64(updated_at) AS at, name FROM " + store.current(LEADS)).to_pylist()
    return {row["id"]: (row["at"], row["name"]) for row in rows}


def fake_leads(fake: FakeAmoCRM) -> dict[int, tuple[int, str]]:
    return {lead["id"]: (lead["updated_at"], lead["name"]) for lead in fake.entities["leads"]}


def duplicate_versions(db: Database) -> int:
    return db.scalar("SELECT count() - uniqExact(id, updated_at) FROM " + store.committed_rows(LEADS))


def leads_requests(fake: FakeAmoCRM) -> list[dict[str, str]]:
    found = []
    for _, path, _ in fake.requests:
        parts = urlsplit(path)
        if parts.path == "/api/v4/leads" and "only_deleted" not in parts.query:
            found.append({key: values[-1] for key, values in parse_qs(parts.query).items()})
    return found


def test_a_full_load_stores_exactly_the_accounts_leads_in_a_few_big_inserts(amocrm: FakeAmoCRM, writer: Database,
                                                                           tmp_path: Path) -> None:
    amocrm.add_leads(5000)  # 20 pages of 250; each next page is asked from the last update time read, so it
    said: list[str] = []    # repeats the lead read last (equal update times are never skipped): 21 pages
    results = loader(amocrm, writer, tmp_path, batch_rows=2000, say=said.append).run(streams(["leads"]), "full")
    leads = results[0]
    assert current_leads(writer) == fake_leads(amocrm)
    assert (leads.pages, leads.reported, leads.written, leads.live, leads.finished) == (21, 5000, 5000, 5000, True)
    assert leads.inserts == 3  # 2,000 + 2,000 + 1,000 rows: three inserts for twenty-one pages
    assert "leads: page 7, 1,744 so far" in said  # 250 + 6 × 249 new ones
    assert duplicate_versions(writer) == 0


def test_loading_twice_and_then_thirty_changed_leads_keeps_the_store_equal_to_the_account(
        amocrm: FakeAmoCRM, writer: Database, tmp_path: Path) -> None:
    amocrm.add_leads(1200)
    loader(amocrm, writer, tmp_path).run(streams(["leads"]), "full")
    again = loader(amocrm, writer, tmp_path).run(streams(["leads"]), "full")[0]
    assert again.written == 0 and current_leads(writer) == fake_leads(amocrm)  # nothing stored twice
    amocrm.change("leads", list(range(100, 130)))
    before = len(amocrm.requests)
    delta = loader(amocrm, writer, tmp_path).run(streams(["leads"]), "changes")[0]
    assert delta.mode == "changes" and delta.written == 30
    assert delta.reported == 301 + 30  # the 5 minutes before the last cursor (one lead a second here), and the edits
    assert len(amocrm.requests) - before <= 3  # the changes and the (empty) trash, not 5 pages of everything
    assert current_leads(writer) == fake_leads(amocrm)
    assert duplicate_versions(writer) == 0
    history = writer.scalar("SELECT count() FROM " + store.committed_rows(LEADS) + " WHERE id = 100")
    assert history == 2  # the old version is kept: a lead's stages over time are readable


def test_deleted_leads_are_marked_not_lost(amocrm: FakeAmoCRM, writer: Database, tmp_path: Path) -> None:
    amocrm.add_leads(300)
    loader(amocrm, writer, tmp_path).run(streams(["leads"]), "full")
    amocrm.delete([5, 6, 7])
    results = loader(amocrm, writer, tmp_path).run(streams(["leads"]), "changes")
    assert [result.entity.name for result in results] == ["leads", "deleted_leads"]
    assert set(current_leads(writer)) == set(range(1, 301)) - {5, 6, 7}
    assert results[1].gone == 3 and results[1].reported == 3
    kept = writer.scalar("SELECT count() FROM " + store.committed_rows(LEADS) + " WHERE id = 5")
    assert kept == 2  # its last version before deletion, and the deletion


def test_equal_update_times_and_edits_between_pages_lose_nothing(amocrm: FakeAmoCRM, writer: Database,
                                                                 tmp_path: Path) -> None:
    amocrm.add_leads(1000)
    for lead in amocrm.entities["leads"][:600]:  # an import: 600 leads changed in the same second
        lead["updated_at"] = 1_700_000_000
    edits = iter([[10], [300], [550], [900]])
    load = loader(amocrm, writer, tmp_path)
    load.say = lambda text: amocrm.change("leads", next(edits, []))  # someone edits leads while pages come
    load.run(streams(["leads"]), "full")
    assert current_leads(writer) == fake_leads(amocrm)
    assert duplicate_versions(writer) == 0


def test_an_account_that_ignores_the_filter_is_read_page_by_page(amocrm: FakeAmoCRM, writer: Database,
                                                                 tmp_path: Path) -> None:
    amocrm.add_leads(700)
    amocrm.ignore_filters = True
    result = loader(amocrm, writer, tmp_path).run(streams(["leads"]), "full")[0]
    assert result.unfiltered and result.finished
    assert current_leads(writer) == fake_leads(amocrm)


LOAD = textwrap.dedent("""
    import sys
    from analytics import load_settings
    from analytics.clients.amocrm import amocrm_for
    from analytics.crm.entities import streams
    from analytics.crm.loader import Loader
    from analytics.db import connect
    settings = load_settings()
    with connect(sys.argv[1]) as writer:
        Loader(amocrm_for(settings), writer, settings.reports_dir, batch_rows={batch}).run(streams(["{entity}"]), "full")
""")


def test_a_load_killed_after_page_7_of_20_resumes_at_page_8_and_ends_with_exactly_the_accounts_leads(
        amocrm: FakeAmoCRM, either_writer: Database, db_url: str, tmp_path: Path) -> None:
    writer = either_writer
    amocrm.add_leads(5000)
    amocrm.stall_after("leads", 7)  # the 8th page never answers: the loader is killed while it waits
    environment = {**os.environ, "PYTHONPATH": str(LIB), "ANALYTICS_HOME": str(tmp_path), **amocrm.settings()}
    child = subprocess.Popen([sys.executable, "-c", LOAD.format(entity="leads", batch=750), db_url], env=environment)
    try:
        wait_until(lambda: amocrm.waiting() == 1, 60, "the loader did not ask for page 8")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        amocrm.release()
    committed = writer.scalar("SELECT max(page) FROM crm_checkpoints")
    assert committed == 6  # two batches of three pages committed; page 7 waited in the spool
    first_after = len(leads_requests(amocrm))
    result = loader(amocrm, writer, tmp_path, batch_rows=750).run(streams(["leads"]), "full")[0]
    assert result.resumed_at == 8 and result.pages == 14 and result.finished
    resumed = leads_requests(amocrm)[first_after]
    page_seven_last = amocrm.entities["leads"][250 + 6 * 249 - 1]
    assert resumed["filter[updated_at][from]"] == str(page_seven_last["updated_at"]) and resumed["page"] == "1"
    assert current_leads(writer) == fake_leads(amocrm)
    assert duplicate_versions(writer) == 0
    assert result.reported == 5000


def test_two_loaders_at_once_stay_under_seven_requests_a_second(amocrm: FakeAmoCRM, writer: Database,
                                                                tmp_path: Path, embedded_url: str) -> None:
    amocrm.add_leads(4000)
    amocrm.entities["contacts"] = [{"id": i, "name": f"Контакт {i}", "updated_at": 1_760_000_000 + i,
                                    "created_at": 1_760_000_000, "custom_fields_values": None} for i in range(1, 4001)]
    environment = {**os.environ, "PYTHONPATH": str(LIB), "ANALYTICS_HOME": str(tmp_path), **amocrm.settings()}
    other = subprocess.Popen([sys.executable, "-c", LOAD.format(entity="contacts", batch=50_000), embedded_url],
                             env=environment)  # a second process of the same home: the scheduler beside a form
    try:
        loader(amocrm, writer, tmp_path).run(streams(["leads"]), "full")
    finally:
        assert other.wait(120) == 0
    assert len(amocrm.requests) >= 34 and amocrm.most_in_one_second() <= 7
    assert len(current_leads(writer)) == 4000


def test_a_second_load_of_the_same_entity_leaves_it_alone(amocrm: FakeAmoCRM, writer: Database, tmp_path: Path) -> None:
    amocrm.add_leads(10)
    first = loader(amocrm, writer, tmp_path)
    with first._lock(ENTITIES["leads"]):
        result = loader(amocrm, writer, tmp_path).run(streams(["leads"]), "full")[0]
    assert "another load of leads is running" in result.skipped and result.pages == 0
