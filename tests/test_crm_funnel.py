"""The sales funnel against a fake amoCRM account with two pipelines, three managers and known stage histories:
each table checked against pandas over the stored rows, hostile form values, an empty period, no CRM data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analytics import load_settings
from analytics.clients.amocrm import amocrm_for
from analytics.context import RunContext
from analytics.crm import funnel, store
from analytics.crm.entities import streams
from analytics.crm.loader import Loader
from analytics.crm.tables import CRM_TABLES, LEADS, STATUSES, USERS
from analytics.db import Database, connect
from analytics.errors import ParameterError
from analytics.params import FormInvalid, declaration, resolve
from analytics.pipeline import run_report
from analytics.reports import sales_funnel
from analytics.reports.crm_funnel import NOT_LOADED
from analytics.testing.fakes import FakeAmoCRM
from analytics.warehouse.lookups import Lookups

from .conftest import REPO
from .test_report_texts import UNREADABLE

NOTEBOOK = REPO / "notebooks" / "account_managers" / "sales_funnel.ipynb"
T0 = 1_760_000_000  # 09.10.2025 08:53 UTC
HOUR, DAY = 3600, 86_400
SALES, PARTNERS = 100, 200
INCOMING, QUALIFIED, PROPOSAL, NEW, TALKS, WON, LOST = 1001, 1002, 1003, 2001, 2002, 142, 143


def _statuses(pipeline: int, working: list[tuple[int, str]]) -> list[dict[str, Any]]:
    stages = [{"id": sid, "name": name, "sort": 10 * (index + 1), "type": 1 if index == 0 else 0,
               "pipeline_id": pipeline} for index, (sid, name) in enumerate(working)]
    return stages + [{"id": WON, "name": "Успешно реализовано", "sort": 10000, "type": 0, "pipeline_id": pipeline},
                     {"id": LOST, "name": "Закрыто и не реализовано", "sort": 11000, "type": 0, "pipeline_id": pipeline}]


PIPELINES = [
    {"id": PARTNERS, "name": "Partners", "sort": 2, "is_main": False,
     "_embedded": {"statuses": _statuses(PARTNERS, [(NEW, "New"), (TALKS, "Talks")])}},
    {"id": SALES, "name": "Sales", "sort": 1, "is_main": True,
     "_embedded": {"statuses": _statuses(SALES, [(PROPOSAL, "Proposal"), (INCOMING, "Incoming"),
                                                  (QUALIFIED, "Qualified")])}},
]
PIPELINES[1]["_embedded"]["statuses"][0]["sort"] = 30  # Proposal is listed first but sorts after Qualified
PIPELINES[1]["_embedded"]["statuses"][1]["sort"] = 10
PIPELINES[1]["_embedded"]["statuses"][2]["sort"] = 20
USERS_ = [{"id": 11, "name": "Анна Петрова", "email": "anna@example.com", "rights": {"is_active": True}},
          {"id": 12, "name": "Boris", "email": "boris@example.com", "rights": {"is_active": True}},
          {"id": 13, "name": "Carl", "email": "carl@example.com", "rights": {"is_active": True}}]

# Each lead: (id, pipeline, manager, price, created hour, [(hour of the load that sees it, status), ...], lost reason).
# The first status is the one it is created in; later ones are edits seen by later loads of changes.
LEADS_ = [
    (1, SALES, 11, 1000, 0, [INCOMING, QUALIFIED, PROPOSAL, WON], ""),
    (2, SALES, 11, 2000, 1, [INCOMING, QUALIFIED, LOST], "Too expensive"),
    (3, SALES, 12, 3000, 2, [INCOMING, PROPOSAL, WON], ""),  # skips Qualified: reached it all the same
    (4, SALES, 12, 4000, 3, [INCOMING, LOST], "No answer"),
    (5, SALES, 12, 5000, 4, [QUALIFIED, QUALIFIED, QUALIFIED, QUALIFIED], ""),  # created in Qualified, stays there
    (6, SALES, 13, 6000, 5, [INCOMING, INCOMING, QUALIFIED, INCOMING], ""),  # back to Incoming: two stays there
    (7, SALES, 13, 7000, 6, [LOST], "Too expensive"),  # lost at once: reached no stage
    (8, SALES, 99, 8000, 7, [INCOMING, WON], ""),  # a manager the users list does not have
    (9, PARTNERS, 11, 9000, 8, [NEW, TALKS, WON], ""),
    (10, PARTNERS, 12, 500, 9, [NEW, LOST], ""),  # lost without a reason
    (11, SALES, 11, 100, -24 * 200, [INCOMING], ""),  # created 200 days before: outside the default period
    (12, SALES, 13, 700, 10, [INCOMING, QUALIFIED], ""),  # deleted after the second load: counted nowhere
]
LOAD_HOURS = [24, 24 * 3, 24 * 8, 24 * 20]  # the first load, then three loads of changes


def _lead(spec: tuple, status: int, updated: int) -> dict[str, Any]:
    lead_id, pipeline, manager, price, created, _, reason = spec
    embedded: dict[str, Any] = {"tags": [], "companies": []}
    if status == LOST and reason:
        embedded["loss_reason"] = [{"id": 1, "name": reason}]
    return {"id": lead_id, "name": f"Сделка {lead_id}", "price": price, "responsible_user_id": manager,
            "status_id": status, "pipeline_id": pipeline, "created_at": T0 + created * HOUR, "updated_at": updated,
            "closed_at": updated if status in (WON, LOST) else None, "is_deleted": False,
            "custom_fields_values": None, "_embedded": embedded}


def _load(fake: FakeAmoCRM, writer: Database, home: Path, entities: list[str], mode: str) -> None:
    settings = load_settings({"ANALYTICS_HOME": str(home), **fake.settings()})
    Loader(amocrm_for(settings), writer, settings.reports_dir, user="test").run(streams(entities), mode)


def build_account(fake: FakeAmoCRM, writer: Database, home: Path) -> None:
    """Load the account, then move the leads through their stages with a load of changes after each move."""
    fake.pipelines[:] = PIPELINES
    fake.entities["users"] = [dict(user) for user in USERS_]
    fake.entities["leads"] = [_lead(spec, spec[5][0], T0 + spec[4] * HOUR) for spec in LEADS_]
    _load(fake, writer, home, ["users", "pipelines", "leads"], "full")
    for step, hour in enumerate(LOAD_HOURS[1:], start=1):
        for offset, spec in enumerate(LEADS_):
            statuses = spec[5]
            if step < len(statuses) and statuses[step] != statuses[step - 1]:
                current = next(lead for lead in fake.entities["leads"] if lead["id"] == spec[0])
                current.update(_lead(spec, statuses[step], T0 + hour * HOUR + offset))
        if step == 2:
            fake.delete([12])
            fake.entities["users"] = [user for user in fake.entities["users"] if user["id"] != 13]  # Carl left
            _load(fake, writer, home, ["users"], "changes")
        _load(fake, writer, home, ["leads"], "changes")


def emptied(url: str) -> Iterator[Database]:
    with connect(url) as db:
        for spec in CRM_TABLES:
            db.drop_table(spec.name)
        yield db
        for spec in CRM_TABLES:
            db.drop_table(spec.name)


@pytest.fixture(scope="module", params=["embedded", "server"])
def account(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """The fake account loaded once per backend into its store (the CRM tables only, dropped after)."""
    url = request.getfixturevalue(f"{request.param}_url")
    with FakeAmoCRM() as fake:
        for db in emptied(url):
            build_account(fake, db, tmp_path_factory.mktemp("crm-home"))
            yield db


def context(db: Database, home: Path) -> RunContext:
    return RunContext(load_settings(home=home), db, "tester", "run1")


# --- the oracle: pandas over the stored rows, not the report's code ----------------------------------------------

def oracle(db: Database, pipeline: int, start: dt.date, end: dt.date) -> dict[str, Any]:
    statuses = db.query("SELECT * FROM " + store.current(STATUSES, ("pipeline_id", "id")))
    statuses = statuses[statuses.pipeline_id == pipeline]
    statuses = statuses.assign(last=statuses.id.isin([WON, LOST]), lost_last=statuses.id == LOST)
    order = statuses.sort_values(["last", "lost_last", "sort", "id"])
    working = order[~order["last"]]
    names = dict(zip(order.id, order.name, strict=True))
    rank = {sid: index + 1 for index, sid in enumerate(working.id)} | {WON: len(working) + 1}

    leads = db.query("SELECT * FROM " + store.current(LEADS))
    day = leads.created_at.dt.normalize()
    leads = leads[(leads.pipeline_id == pipeline) & (day >= pd.Timestamp(start)) & (day <= pd.Timestamp(end))]
    versions = db.query("SELECT * FROM " + store.committed_rows(LEADS))
    versions = versions[(versions.is_deleted == 0) & versions.id.isin(leads.id)]

    now = leads.status_id.value_counts()
    by_stage = {names[sid]: int(now.get(sid, 0)) for sid in order.id}

    seen = pd.concat([versions.loc[versions.pipeline_id == pipeline, ["id", "status_id"]], leads[["id", "status_id"]]])
    furthest = seen.assign(rank=seen.status_id.map(rank).fillna(0)).groupby("id")["rank"].max()
    steps = [*working.id, WON]
    reached = {names[sid]: int((furthest >= rank[sid]).sum()) for sid in steps}

    users = db.query("SELECT * FROM " + store.committed_rows(USERS) + " WHERE name != ''")
    who = leads.responsible_user_id.map(dict(zip(users.id, users.name, strict=True)))
    who = who.fillna("Manager " + leads.responsible_user_id.astype(str))
    managers = leads.assign(manager=who, won=leads.status_id == WON, lost=leads.status_id == LOST,
                            won_price=leads.price.where(leads.status_id == WON, 0)).groupby("manager").agg(
        leads=("id", "size"), won=("won", "sum"), lost=("lost", "sum"), won_budget=("won_price", "sum"))

    history = versions.sort_values(["id", "updated_at"]).merge(leads[["id", "created_at"]], on="id",
                                                                 suffixes=("", "_now"))
    previous = history.groupby("id")[["pipeline_id", "status_id"]].shift()
    first = previous.status_id.isna()
    moved = first | (previous.pipeline_id != history.pipeline_id) | (previous.status_id != history.status_id)
    entered = history[moved].assign(since=lambda frame: frame.updated_at.where(~first[moved], frame.created_at_now))
    entered = entered.assign(left=entered.groupby("id")["since"].shift(-1)).dropna(subset=["left"])
    entered = entered[entered.pipeline_id == pipeline]
    entered = entered.assign(days=(entered.left - entered.since).dt.total_seconds() / 86_400)
    stays = entered.groupby("status_id")["days"]
    time = {names[sid]: (int(stays.size().get(sid, 0)),
                         round(float(stays.median()[sid]), 1) if sid in stays.size() else None,
                         round(float(stays.quantile(0.9)[sid]), 1) if sid in stays.size() else None)
            for sid in working.id}

    lost = leads[leads.status_id == LOST]
    reasons = lost.loss_reason.replace("", "No reason given").value_counts()
    return {"by_stage": by_stage, "reached": reached, "managers": managers, "time": time,
            "reasons": {reason: int(count) for reason, count in reasons.items()}, "leads": len(leads)}


def sheet(result: Any, label: str) -> list[dict[str, Any]]:
    return next(part for part in result.sheets if part.label == label).data.to_pylist()


def test_every_table_agrees_with_pandas_over_the_stored_rows(account: Database, tmp_path: Path) -> None:
    result = sales_funnel(context(account, tmp_path))
    start, end = result.effective["start"], result.effective["end"]
    assert end == dt.date(2025, 10, 9) and start == end - dt.timedelta(days=89)  # 90 days up to the newest lead
    assert result.effective["pipeline"] == SALES  # the main pipeline
    expected = oracle(account, SALES, start, end)
    rows = result.data.to_pylist()
    assert {row["stage"]: row["leads"] for row in rows} == expected["by_stage"]
    assert [row["stage"] for row in rows] == ["Incoming", "Qualified", "Proposal", "Успешно реализовано",
                                              "Закрыто и не реализовано"]
    assert sum(row["share"] for row in rows) == pytest.approx(1.0)

    conversion = sheet(result, "Conversion")
    assert {row["stage"]: row["reached"] for row in conversion} == expected["reached"]
    assert [step[:2] for step in result.funnel] == [("Leads created", expected["leads"])] + [
        (row["stage"], row["reached"]) for row in conversion]
    for row, following in zip(conversion, conversion[1:], strict=False):
        assert row["conversion"] == pytest.approx(following["reached"] / row["reached"])

    managers = {row["manager"]: row for row in sheet(result, "By manager")}
    assert set(managers) == set(expected["managers"].index)
    for name, row in expected["managers"].iterrows():
        got = managers[name]
        assert (got["leads"], got["won"], got["lost"], got["won_budget"]) == (
            row["leads"], row["won"], row["lost"], row["won_budget"])
        assert got["open"] == row["leads"] - row["won"] - row["lost"]
        assert got["won_share"] == pytest.approx(row["won"] / row["leads"])

    time = {row["stage"]: (row["stays"], row["median_days"], row["p90_days"]) for row in sheet(result, "Time in stage")}
    assert time == expected["time"]
    assert 13 not in set(account.query("SELECT id FROM " + store.current(USERS)).id)  # Carl left, his name stays
    assert "Carl" in managers and 12 not in {lead.id for lead in funnel.read_leads(account, SALES, start, end)}
    assert time["Incoming"][0] == 6  # leads 1, 2, 3, 4, 6 and 8 left it; lead 6 is back in it now (still running)

    reasons = {row["reason"]: row["leads"] for row in sheet(result, "Lost reasons")}
    assert reasons == expected["reasons"] == {"Too expensive": 2, "No answer": 1}
    assert result.shares and "share" in result.shares
    assert result.headline is not None and result.headline.value == pytest.approx(3 / 8)
    assert [chart.title for chart in result.charts] == ["Leads by manager", "Won leads by manager"]
    for text in (result.title, *result.facts, *(notice.text for notice in result.notices)):
        assert not UNREADABLE.search(text), text


def test_the_other_pipeline_and_a_chosen_period(account: Database, tmp_path: Path) -> None:
    start, end = dt.date(2025, 10, 9), dt.date(2025, 10, 9)
    result = sales_funnel(context(account, tmp_path), start=start, end=end, pipeline=PARTNERS)
    expected = oracle(account, PARTNERS, start, end)
    assert {row["stage"]: row["leads"] for row in result.data.to_pylist()} == expected["by_stage"]
    assert {row["stage"]: row["reached"] for row in sheet(result, "Conversion")} == expected["reached"]
    assert sheet(result, "Lost reasons") == [{"reason": "No reason given", "leads": 1, "share": 1.0}]
    later = sales_funnel(context(account, tmp_path), start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
    assert [row["leads"] for row in later.data.to_pylist()][0] == 1  # lead 11, in Incoming
    assert [part.label for part in later.sheets] == ["Conversion", "By manager", "Time in stage"]  # none lost


def test_the_whole_run_writes_every_table_on_its_own_sheet(account: Database, tmp_path: Path) -> None:
    outcome = run_report(sales_funnel, declaration(NOTEBOOK), {}, context(account, tmp_path))
    formats = sorted(result.format for result in outcome.files)
    assert formats == ["csv", "xlsx"]
    xlsx = next(result for result in outcome.files if result.format == "xlsx")
    assert xlsx.extra_sheets == ("Conversion", "By manager", "Time in stage", "Lost reasons")
    book = pd.read_excel(xlsx.path, sheet_name=None)
    assert list(book) == ["By stage", "Conversion", "By manager", "Time in stage", "Lost reasons"]
    assert "Leads now in the stage" in book["By stage"].columns


def test_an_empty_period_says_where_the_leads_are(account: Database, tmp_path: Path) -> None:
    result = sales_funnel(context(account, tmp_path), start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))
    assert result.data.num_rows == 0
    assert "23.03.2025" in result.empty_text and "09.10.2025" in result.empty_text


@pytest.mark.parametrize(("given", "field"), [
    ({"start": "32.13.2025"}, "start"), ({"start": "2025-02-30"}, "start"), ({"start": "'; DROP TABLE crm_leads --"}, "start"),
    ({"start": "01.01.1900"}, "start"), ({"end": "tomorrow"}, "end"),
    ({"start": "10.10.2025", "end": "09.10.2025"}, "end"), ({"start": "01.01.2024", "end": "01.01.2026"}, "end"),
    ({"pipeline": "abc"}, "pipeline"), ({"pipeline": "-1"}, "pipeline"), ({"pipeline": "999"}, "pipeline"),
    ({"pipeline": "100 OR 1=1"}, "pipeline"), ({"pipeline": "9" * 30}, "pipeline"), ({"pipeline": True}, "pipeline"),
    ({"pipeline": [100]}, "pipeline"), ({"pipline": "100"}, "pipline"),
])
def test_hostile_form_values_are_refused_by_their_field(account: Database, given: dict[str, Any], field: str) -> None:
    with pytest.raises(FormInvalid) as refused:
        resolve(declaration(NOTEBOOK), given, Lookups(account))
    assert field in refused.value.errors


def test_the_pipelines_list_and_a_direct_call_with_an_unknown_pipeline(account: Database, tmp_path: Path) -> None:
    assert Lookups(account)("crm_pipelines") == [("The main pipeline", 0), ("Sales (main)", SALES),
                                                 ("Partners", PARTNERS)]
    assert resolve(declaration(NOTEBOOK), {"pipeline": "200"}, Lookups(account))["pipeline"] == PARTNERS
    for wrong in (999, -5):
        with pytest.raises(ParameterError):
            sales_funnel(context(account, tmp_path), pipeline=wrong)


def test_no_crm_tables_gives_a_plain_page_and_files(scratch_store: Database, tmp_path: Path) -> None:
    assert Lookups(scratch_store)("crm_pipelines") == [("The main pipeline", 0)]
    outcome = run_report(sales_funnel, declaration(NOTEBOOK), {}, context(scratch_store, tmp_path))
    assert outcome.rows == 0 and [notice.text for notice in outcome.query.notices] == [NOT_LOADED]
    assert "amoCRM" in outcome.query.empty_text and "run the CRM loader" in NOT_LOADED
    assert {result.format for result in outcome.files} == {"xlsx", "csv"}


# --- the pure steps ----------------------------------------------------------------------------------------------

def _at(hours: float) -> dt.datetime:
    return dt.datetime(2026, 1, 1) + dt.timedelta(hours=hours)


def test_stays_start_at_creation_and_end_when_a_load_first_sees_the_next_stage() -> None:
    versions = [(_at(1), 1, 10), (_at(5), 1, 10), (_at(24), 1, 20), (_at(72), 1, 10), (_at(96), 1, 142)]
    assert funnel.entries(_at(0), versions) == [((1, 10), _at(0)), ((1, 20), _at(24)), ((1, 10), _at(72)),
                                                ((1, 142), _at(96))]
    assert funnel.stays(_at(0), versions) == [((1, 10), 1.0), ((1, 20), 2.0), ((1, 10), 1.0)]
    assert funnel.stays(_at(0), versions[:1]) == []


@pytest.mark.parametrize("values", [[1.0], [1.0, 2.0], [3.0, 1.0, 2.0, 10.0], [0.5] * 7 + [9.0, 2.0]])
def test_quantiles_are_pandas_linear_ones(values: list[float]) -> None:
    for q in (0.5, 0.9):
        assert funnel.quantile(values, q) == pytest.approx(pd.Series(values).quantile(q))


def test_a_lead_moved_in_from_another_pipeline_and_a_stage_no_longer_listed() -> None:
    sales = funnel.Pipeline(SALES, "Sales", True, 1, (
        funnel.Stage(INCOMING, "Incoming", 10, "working"), funnel.Stage(QUALIFIED, "Qualified", 20, "working"),
        funnel.Stage(WON, "Won", 10000, "won"), funnel.Stage(LOST, "Lost", 11000, "lost")))
    leads = [funnel.Lead(1, QUALIFIED, 11, 10, "", _at(0)), funnel.Lead(2, 999, 11, 20, "", _at(0)),
             funnel.Lead(3, LOST, 12, 30, "", _at(0))]
    history = {1: [(_at(0), PARTNERS, NEW), (_at(48), SALES, QUALIFIED)],  # two days in the partners' pipeline
               2: [(_at(0), SALES, INCOMING), (_at(24), SALES, 999)],
               3: [(_at(0), SALES, QUALIFIED), (_at(12), SALES, LOST)]}
    result = funnel.compute(sales, leads, history, {11: "Anna"})
    assert [(row["stage"], row["leads"]) for row in result.by_stage] == [
        ("Incoming", 0), ("Qualified", 1), ("Stage 999 (no longer in the pipeline)", 1), ("Won", 0), ("Lost", 1)]
    assert result.unknown_stages == 1
    assert [(row["stage"], row["reached"]) for row in result.conversion] == [("Incoming", 3), ("Qualified", 2),
                                                                              ("Won", 0)]
    assert [(row["stage"], row["stays"], row["median_days"]) for row in result.time_in_stage] == [
        ("Incoming", 1, 1.0), ("Qualified", 1, 0.5), ("Stage 999 (no longer in the pipeline)", 0, None)]
    assert [(row["manager"], row["leads"], row["lost"]) for row in result.managers] == [("Anna", 2, 0),
                                                                                       ("Manager 12", 1, 1)]
    assert result.lost_reasons == [{"reason": "No reason given", "leads": 1, "share": 1.0}]
