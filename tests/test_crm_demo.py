"""The demo amoCRM account and its load into the demo store: the same from the same seed, answering as amoCRM
does, and loaded by the real loader into several versions per lead that end equal to the account."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from analytics import load_settings
from analytics.clients.amocrm import AmoCRM, RateLimit, amocrm_for
from analytics.clients.demo_amocrm import LOST, REASONS, WON, DemoAccount, demo_account
from analytics.crm import fields, store
from analytics.crm.demo import DemoLoad, load_demo
from analytics.crm.entities import CHOICES, streams
from analytics.crm.loader import Loader
from analytics.crm.tables import LEADS, STATUSES, USERS
from analytics.db import Database, connect
from analytics.errors import ConfigError
from analytics.warehouse.demo import DEMO_END


@pytest.fixture(scope="module")
def account() -> DemoAccount:
    return demo_account()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, DemoLoad]]:
    with connect(f"chdb://{tmp_path_factory.mktemp('crm-demo')}") as db:
        yield db, load_demo(db)


def leads_at(account: DemoAccount, moment: int) -> list[dict]:
    return account.state_at(moment)[0]["leads"]


def test_the_same_seed_gives_the_same_account_and_another_seed_another(account: DemoAccount) -> None:
    again, other = demo_account(), demo_account(seed=7)
    assert again.state_at(again.end) == account.state_at(account.end)
    assert other.state_at(other.end) != account.state_at(account.end)


def test_the_account_looks_like_a_sales_teams_three_months(account: DemoAccount) -> None:
    entities, trash = account.state_at(account.end)
    leads = entities["leads"]
    assert 2_500 <= len(account.leads) <= 3_500 and 30 <= len(trash) <= 200  # some deleted: spam from the form
    assert dt.datetime.fromtimestamp(max(lead["created_at"] for lead in leads), dt.UTC).date() == DEMO_END
    assert account.end - min(lead["created_at"] for lead in leads) > 85 * 86_400
    statuses = collections.Counter(lead["status_id"] for lead in leads)
    assert 0.2 <= statuses[WON] / len(account.leads) <= 0.3 and statuses[LOST] > statuses[WON]
    reasons = {lead["_embedded"]["loss_reason"][0]["name"] for lead in leads if lead["status_id"] == LOST}
    assert reasons == set(REASONS)
    assert {lead["pipeline_id"] for lead in leads} == {pipeline["id"] for pipeline in account.pipelines()}
    users = entities["users"]
    assert 6 <= len(users) <= 8 and all(user["name"].split()[0][0] in "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЭЮЯ" for user in users)
    assert sum(not user["rights"]["is_active"] for user in users) == 1
    assert sum(user["rights"]["is_admin"] for user in users) == 1
    stays = [later[0] - earlier[0] for lead in account.leads
             for earlier, later in zip(lead.moves, lead.moves[1:], strict=False)]
    assert min(stays) < 3 * 3600 and max(stays) > 14 * 86_400  # hours in the first stage, weeks in the later ones


def test_pipelines_list_unsorted_first_then_stages_then_won_and_lost(account: DemoAccount) -> None:
    pipelines = {pipeline["name"]: pipeline for pipeline in account.pipelines()}
    assert list(pipelines) == ["Продажи", "Партнёры"] and pipelines["Продажи"]["is_main"]
    for pipeline, working in (("Продажи", 5), ("Партнёры", 3)):
        statuses = pipelines[pipeline]["_embedded"]["statuses"]
        assert len(statuses) == working + 3
        assert statuses[0]["name"] == "Неразобранное" and statuses[0]["type"] == 1
        assert [(status["id"], status["name"]) for status in statuses[-2:]] == [
            (WON, "Успешно реализовано"), (LOST, "Закрыто и не реализовано")]
        assert [status["sort"] for status in statuses] == sorted(status["sort"] for status in statuses)
        assert {status["pipeline_id"] for status in statuses} == {pipelines[pipeline]["id"]}


def test_as_of_a_moment_nothing_later_shows_and_each_lead_is_in_its_stage_of_then(account: DemoAccount) -> None:
    middle = account.start + 45 * 86_400
    entities, trash = account.state_at(middle)
    for name in ("leads", "contacts", "companies"):
        assert entities[name] and all(item["created_at"] <= item["updated_at"] <= middle for item in entities[name])
    assert all(item["updated_at"] <= middle for item in trash)
    then = {lead["id"]: lead for lead in entities["leads"]}
    moved = [lead for lead in leads_at(account, account.end) if lead["id"] in then
             and lead["status_id"] != then[lead["id"]]["status_id"]]
    assert len(moved) > 300 and all(lead["updated_at"] > middle for lead in moved)
    assert len(leads_at(account, account.start + 86_400)) < len(then) < len(leads_at(account, account.end))


def test_answers_follow_the_contract_pages_204_and_embedded_only_with_with(account: DemoAccount, tmp_path: Path) -> None:
    with account.fake() as served:
        client = AmoCRM(served.url, served.access_token, RateLimit(tmp_path / "requests", per_second=1_000))
        pages = list(client.pages("/api/v4/leads", "leads", {"with": "contacts,loss_reason"}))
        assert [len(page) for _, page in pages[:-1]] == [250] * (len(pages) - 1)
        assert sum(len(page) for _, page in pages) == len(served.entities["leads"])
        assert client.get("/api/v4/leads", {"page": len(pages) + 1, "limit": 250}) is None  # 204 past the end
        leads = [lead for _, page in pages for lead in page]
        lost = [lead for lead in leads if lead["status_id"] == LOST]
        assert all(lead["_embedded"]["loss_reason"][0]["id"] == lead["loss_reason_id"] for lead in lost)
        assert all(sum(contact["is_main"] for contact in lead["_embedded"]["contacts"]) == 1 for lead in leads)
        plain = client.get("/api/v4/leads", {"limit": 250})["_embedded"]["leads"]  # type: ignore[index]
        assert all(set(lead["_embedded"]) == {"tags", "companies"} for lead in plain)
        response = requests.get(f"{served.url}/api/v4/contacts", headers={"Authorization": "Bearer wrong"}, timeout=5)
        assert response.status_code == 401


def test_contacts_and_companies_carry_the_custom_fields_the_loader_reads(account: DemoAccount) -> None:
    entities, _ = account.state_at(account.end)
    values = [value for contact in entities["contacts"] for item in contact["custom_fields_values"]
              for value in item["values"]]
    assert {"enum", "enum_code"} <= {key for value in values for key in value}  # both ways amoCRM writes the kind
    contacts = [fields.contact_row(contact) for contact in entities["contacts"]]
    assert all(row["phone"] for row in contacts) and 0.5 < sum(bool(row["email"]) for row in contacts) / len(contacts)
    assert any(";" in row["phones"] for row in contacts)  # a phone added later
    companies = [fields.company_row(company) for company in entities["companies"]]
    inns = [row["inn"] for row in companies if row["inn"]]
    assert {len(inn) for inn in inns} == {10, 12}
    valid = sum(_inn_holds(inn) for inn in inns)
    assert 0.85 < valid / len(inns) < 1.0  # mostly valid check digits, a few not


def test_the_demo_load_keeps_each_moves_version_and_ends_equal_to_the_account(
        account: DemoAccount, loaded: tuple[Database, DemoLoad]) -> None:
    db, done = loaded
    assert done.loads >= 20 and done.leads == len(leads_at(account, account.end))
    versions = db.query_arrow("SELECT id, count() AS n, uniqExact(status_id) AS stages FROM "
                              + store.committed_rows(LEADS) + " GROUP BY id").to_pylist()
    assert sum(row["n"] >= 3 and row["stages"] >= 3 for row in versions) > 1_000  # a stage history per lead
    rows = db.query_arrow("SELECT id, toUInt64(updated_at) AS at, status_id, pipeline_id, loss_reason, contact_id, "
                          "company_id FROM " + store.current(LEADS)).to_pylist()
    final = {lead["id"]: fields.lead_row(lead) for lead in leads_at(account, account.end)}
    assert {row["id"]: (row["at"], row["status_id"], row["pipeline_id"], row["loss_reason"], row["contact_id"],
                        row["company_id"]) for row in rows} == {
        key: (int(row["updated_at"].replace(tzinfo=dt.UTC).timestamp()), row["status_id"], row["pipeline_id"],
              row["loss_reason"], row["contact_id"], row["company_id"]) for key, row in final.items()}
    assert store.current_count(db, LEADS)[1] == len(account.state_at(account.end)[1])  # the trash, marked deleted
    stages = db.query_arrow("SELECT pipeline_name, count() AS n FROM " + store.current(STATUSES, ("pipeline_id", "id"))
                            + " GROUP BY pipeline_name").to_pylist()
    assert {row["pipeline_name"]: row["n"] for row in stages} == {"Продажи": 8, "Партнёры": 6}
    users = db.query_arrow("SELECT name, is_active FROM " + store.current(USERS)).to_pylist()
    assert len(users) == 8 and sum(not row["is_active"] for row in users) == 1


def test_a_load_of_changes_against_the_demo_app_account_finds_the_store_up_to_date(
        account: DemoAccount, loaded: tuple[Database, DemoLoad], tmp_path: Path) -> None:
    db, _ = loaded
    with account.fake() as served:  # what the app serves with ANALYTICS_AMOCRM_URL=demo
        settings = load_settings({"ANALYTICS_HOME": str(tmp_path), **served.settings()})
        results = Loader(amocrm_for(settings), db, settings.reports_dir).run(streams(list(CHOICES)), "changes")
    assert {result.entity.name: result.written for result in results} == {
        "users": 0, "pipelines": 0, "leads": 0, "deleted_leads": 0, "contacts": 0, "companies": 0}


def test_the_demo_address_is_refused_outside_the_app(tmp_path: Path) -> None:
    settings = load_settings({"ANALYTICS_HOME": str(tmp_path), "ANALYTICS_AMOCRM_URL": "demo"})
    with pytest.raises(ConfigError, match="answered by the demo app"):
        amocrm_for(settings)


def _inn_holds(inn: str) -> bool:
    digits = [int(digit) for digit in inn]
    weights = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]

    def check(count: int) -> int:
        return sum(w * d for w, d in zip(weights[-count:], digits[:count], strict=True)) % 11 % 10

    if len(digits) == 10:
        return check(9) == digits[9]
    return check(10) == digits[10] and check(11) == digits[11]


def test_the_sales_funnel_on_the_demo_matches_pandas_over_the_raw_tables(loaded: tuple[Database, DemoLoad],
                                                                        tmp_path: Path) -> None:
    from analytics.reports.crm_funnel import sales_funnel

    from .test_crm_funnel import context, oracle, sheet

    db, _ = loaded
    for pipeline in (0, *sorted({int(row["pipeline_id"]) for row in db.query_arrow(
            "SELECT DISTINCT pipeline_id FROM crm_statuses").to_pylist()})):
        result = sales_funnel(context(db, tmp_path), pipeline=pipeline)
        expected = oracle(db, result.effective["pipeline"], result.effective["start"], result.effective["end"])
        assert expected["leads"] > 100  # the demo's months have data in each pipeline
        assert {row["stage"]: row["leads"] for row in result.data.to_pylist()} == expected["by_stage"]
        assert {row["stage"]: row["reached"] for row in sheet(result, "Conversion")} == expected["reached"]
        managers = {row["manager"]: (row["leads"], row["won"], row["lost"], row["won_budget"])
                    for row in sheet(result, "By manager")}
        assert managers == {name: (row["leads"], row["won"], row["lost"], row["won_budget"])
                            for name, row in expected["managers"].iterrows()}
        time = {row["stage"]: (row["stays"], row["median_days"], row["p90_days"])
                for row in sheet(result, "Time in stage")}
        assert time == expected["time"]
        assert {row["reason"]: row["leads"] for row in sheet(result, "Lost reasons")} == expected["reasons"]
