"""The test cluster itself (issue "Past one machine", first step): two shards of ClickHouse 18.16 on loopback, the
first with two replicas; a Distributed table spreads rows by a hash of the key, writes both replicas of a shard,
and keeps answering in full when one replica stops."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from clickhouse_driver import Client

from analytics import TableSpec, connect, load_settings
from analytics import reports as reports_module
from analytics.audiences import AudienceRequest, build_audience, saved
from analytics.audiences.store import members_sql
from analytics.db.cluster import ClusterWriteError, limit_by_then_limit
from analytics.errors import QueryError
from analytics.params import declaration
from analytics.pipeline import run_report
from analytics.raffle import demo as raffle_demo
from analytics.testing.clickhouse_cluster import ClickHouseCluster
from analytics.testing.clickhouse_server import ClickHouseServer
from analytics.testing.fakes import FakeAmplitude, cohort_csv
from analytics.testing.runs import run_context
from analytics.warehouse import WAREHOUSE, demo
from analytics.warehouse.demo import DEMO_TRUTH

from .conftest import REPO, SEED


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClickHouseCluster]:
    with ClickHouseCluster() as started:
        yield started


@pytest.fixture(scope="module")
def single(server_url: str) -> str:
    """A database of the session's single server holding the small demo and nothing else (its default database
    also holds what other test files saved: audiences, runs)."""
    with connect(server_url) as db:
        db.execute("DROP DATABASE IF EXISTS cluster_twin")
        db.execute("CREATE DATABASE cluster_twin")
    url = server_url.rsplit("/", 1)[0] + "/cluster_twin"
    with connect(url) as db:
        demo.load(db, "small", SEED)
    return url


def run(node: ClickHouseServer, sql: str, rows: list | None = None) -> list:
    client = Client("127.0.0.1", port=node.tcp_port, user=node.user, password=node.password,
                    settings={"insert_distributed_sync": 1})  # a write is on its shards when it returns
    try:
        return client.execute(sql, rows) if rows is not None else client.execute(sql)
    finally:
        client.disconnect()


KEYED = TableSpec("audience_versions", {"sub_id": "String", "version": "UInt32", "size": "UInt64"},
                  key=("sub_id",), version="version")


def test_the_library_makes_local_and_distributed_tables_and_keeps_every_version_of_a_key_on_one_shard(
        cluster: ClickHouseCluster) -> None:
    first, second, replica = cluster.nodes
    url = f"{first.url}?cluster={cluster.name}"
    with connect(url) as db:
        db.create_table(KEYED)
        assert "audience_versions" in db.tables() and "audience_versions_local" not in db.tables()
        for version in (1, 2, 3):  # each key written three times, newer versions later
            db.insert("audience_versions", KEYED.arrow({"sub_id": [f"push_{n}" for n in range(200)],
                                                        "version": [version] * 200, "size": [version * 10] * 200}))
        current = db.query_arrow("SELECT sub_id, version FROM " + KEYED.current(["sub_id", "version"])).to_pylist()
        assert len(current) == 200 and {row["version"] for row in current} == {3}  # one current row per key
    shard_keys = [{row[0] for row in run(node, "SELECT DISTINCT sub_id FROM audience_versions_local")}
                  for node in (first, second)]
    assert not shard_keys[0] & shard_keys[1] and len(shard_keys[0] | shard_keys[1]) == 200
    assert run(replica, "SELECT count() FROM audience_versions_local") == run(first, "SELECT count() FROM "
                                                                               "audience_versions_local")
    with connect(url) as db:
        wrong = "SELECT sub_id, version FROM audience_versions ORDER BY version DESC LIMIT 1 BY sub_id LIMIT 5"
        with pytest.raises(QueryError, match="LIMIT … BY and then LIMIT in one SELECT"):
            db.query_arrow(wrong)  # 18.16 gives wrong rows for it over a Distributed table: refused in words
        right = "SELECT * FROM (SELECT sub_id FROM audience_versions ORDER BY version DESC LIMIT 1 BY sub_id) LIMIT 5"
        assert db.query_arrow(right).num_rows == 5
        db.drop_table("audience_versions")
    assert run(second, "SELECT count() FROM system.tables WHERE name LIKE 'audience_versions%'")[0][0] == 0


@pytest.mark.parametrize(("sql", "refused"), [
    ("SELECT a FROM t ORDER BY b LIMIT 1 BY a LIMIT 10", True),
    ("select a from t order by b limit 2 by a, c limit 3", True),
    ("SELECT * FROM (SELECT a FROM t LIMIT 1 BY a) LIMIT 10", False),
    ("SELECT a FROM t WHERE x IN (SELECT x FROM u LIMIT 1 BY y) LIMIT 10", False),
    ("SELECT a FROM t LIMIT 1 BY a", False),
    ("SELECT 'LIMIT 1 BY a LIMIT 2' AS text", False),
    ("SELECT a FROM t WHERE s = 'it''s' LIMIT 2 BY a", False),
    ("SELECT a FROM (SELECT a FROM t LIMIT 1 BY a LIMIT 4)", True),
])
def test_limit_by_then_limit_in_one_select_is_found(sql: str, refused: bool) -> None:
    assert limit_by_then_limit(sql) is refused



def test_the_demo_warehouse_on_the_cluster_equals_the_one_on_a_single_server(cluster: ClickHouseCluster,
                                                                            single: str) -> None:
    with connect(f"{cluster.nodes[0].url}?cluster={cluster.name}") as db, connect(single) as server:
        demo.load(db, "small", SEED)
        for table in {**WAREHOUSE, **DEMO_TRUTH}:
            assert db.checksum(table) == server.checksum(table), table
        cards = "SELECT partner_id, count() AS cards FROM cards GROUP BY partner_id ORDER BY partner_id"
        assert db.query_arrow(cards).equals(server.query_arrow(cards))  # a report's query, the same answer


# writers, reports that need an input, and the audit trail (its rows are this home's own runs, times and ids)
READ_ONLY_NEEDS = {"push_audience", "retargeting_audience", "raffle", "recalculate", "crm_load", "contact_list",
                   "audit_trail"}


def shipped_reports() -> list[tuple[str, Path]]:
    """(report function, notebook) of every shipped notebook that runs on its defaults and writes nothing."""
    found = []
    for notebook in sorted((REPO / "notebooks").rglob("*.ipynb")):
        if notebook.stem in READ_ONLY_NEEDS:
            continue
        source = json.loads(notebook.read_text(encoding="utf-8"))["cells"][-1]["source"]
        name = re.search(r"from analytics\.reports import (\w+)", "".join(source))
        if name:
            found.append((name.group(1), notebook))
    return found


def test_every_shipped_report_gives_the_same_files_on_the_cluster_as_on_one_server(
        cluster: ClickHouseCluster, single: str, tmp_path: Path) -> None:
    """After the demo test above loaded the same warehouse: each report's CSV, byte for byte (run ids aside)."""
    cluster_url = f"{cluster.nodes[0].url}?cluster={cluster.name}"
    reports = shipped_reports()
    assert len(reports) >= 8
    for name, notebook in reports:
        csvs = []
        for url, home in ((single, tmp_path / "one"), (cluster_url, tmp_path / "cluster")):
            settings = load_settings(home=home, db_url=url)
            with connect(url, settings) as db:
                outcome = run_report(getattr(reports_module, name), declaration(notebook), {}, run_context(db, settings))
            csvs.append(sorted(result.path.read_bytes() for result in outcome.files if result.path.suffix == ".csv"))
        assert csvs[0] == csvs[1], notebook.stem



def test_a_raffle_draw_written_on_the_cluster_reads_back_as_on_one_server(cluster: ClickHouseCluster,
                                                                          single: str, tmp_path: Path) -> None:
    """A write through the ledger (participants, picks, then the commit row, read back): the same winners, the
    same files, drawing twice keeps one draw."""
    notebook = REPO / "notebooks" / "marketing" / "raffle.ipynb"
    files = []
    for url, home in ((single, tmp_path / "one"), (f"{cluster.nodes[0].url}?cluster={cluster.name}", tmp_path / "many")):
        settings = load_settings(home=home, db_url=url)
        with connect(url, settings) as db:
            raffle_demo.set_up_raffle(db, settings)
            drawn = [run_report(reports_module.weekly_raffle, declaration(notebook), {}, run_context(db, settings))
                     for _ in range(2)]  # the second run shows the stored draw
            assert db.scalar("SELECT count() FROM raffle_weeks") == 1
        files.append([sorted(result.path.read_bytes() for result in outcome.files if result.path.suffix == ".csv")
                      for outcome in drawn])
    assert files[0] == files[1]


def test_a_saved_audience_on_the_cluster_reads_back_as_on_one_server(cluster: ClickHouseCluster, single: str,
                                                                    tmp_path: Path, amplitude: FakeAmplitude) -> None:
    """The keyed save (versions of a sub_id, its recipients, the commit row) through the Distributed tables: the
    same groups as on one server, and a second run reuses the saved audience and writes nothing."""
    with connect(single) as db:
        ids = db.query_arrow("SELECT amplitude_id FROM users ORDER BY user_id LIMIT 600").column("amplitude_id")
    amplitude.cohorts["cluster1"] = cohort_csv(ids.to_numpy())
    members = []
    for url, home in ((single, tmp_path / "one"), (f"{cluster.nodes[0].url}?cluster={cluster.name}", tmp_path / "many")):
        settings = load_settings(home=home, db_url=url, **amplitude.overrides())
        request = AudienceRequest("cluster1", "push_cluster", cap_days=0, control_percent=20)
        with connect(url, settings) as db:
            first = build_audience(db, request, settings, save=True)
            recipients = db.scalar("SELECT count() FROM audience_recipients")
            again = build_audience(db, request, settings, save=True)
            assert again.reused and again.saved == first.saved
            assert db.scalar("SELECT count() FROM audience_recipients") == recipients
            audience = saved(db, "push_cluster")
            assert audience is not None
            members.append({group: sorted(db.query_arrow(members_sql(group), audience.bound(group=group))
                                          .column("user_id").to_pylist()) for group in ("target", "control")})
    assert members[0] == members[1] and len(members[0]["target"]) > 400


def test_a_distributed_table_shards_by_key_copies_replicas_and_survives_a_stopped_replica(
        cluster: ClickHouseCluster) -> None:
    for node in cluster.nodes:
        run(node, "CREATE TABLE clicks_local (user_id UInt64, event String) ENGINE = MergeTree ORDER BY user_id")
        run(node, f"CREATE TABLE clicks AS clicks_local ENGINE = Distributed({cluster.name}, default, clicks_local, "
                  "cityHash64(user_id))")
    first, second, replica = cluster.nodes
    run(first, "INSERT INTO clicks (user_id, event) VALUES", [(user, "app_open") for user in range(1000)])
    counts = [run(node, "SELECT count() FROM clicks_local")[0][0] for node in cluster.nodes]
    assert counts[0] + counts[1] == 1000 and counts[2] == counts[0] and 0 < counts[1] < 1000
    assert run(second, "SELECT count(), uniqExact(user_id) FROM clicks")[0] == (1000, 1000)
    on_second = {row[0] for row in run(second, "SELECT user_id FROM clicks_local")}
    on_first = {row[0] for row in run(first, "SELECT user_id FROM clicks_local")}
    assert not on_first & on_second  # every row of a key on one shard

    first.stop()  # shard 1 answers from its other replica
    assert run(second, "SELECT count(), uniqExact(user_id) FROM clicks")[0] == (1000, 1000)


MARKS = TableSpec("run_marks", {"run": "UInt32", "entry": "String"})


def test_a_replica_stopped_during_100_runs_costs_no_answer_and_no_write_lands_twice(tmp_path: Path) -> None:
    """The URL's host is shard 1's second replica, with shard 2's node as the alternative. Each run reads a report's
    query and writes one row with its own insert token. The replica stops after run 30 and comes back after run 60:
    every run answers (a refused loopback connection costs nothing; shard 1 is read from its other copy); the
    writes in between are refused whole, in words; then every run's write is sent again through the other node,
    as a rerun after a failover would: the refused ones land, the rest are known by their tokens, one row each."""
    with ClickHouseCluster() as own:
        first, second, replica = own.nodes
        url = f"{replica.url}?cluster={own.name}&alt_hosts=127.0.0.1:{second.tcp_port}"
        with connect(url) as db:
            demo.load(db, "small", SEED)
            db.create_table(MARKS)
        settings = load_settings(home=tmp_path, db_url=url)
        answers, refused = [], {}
        for number in range(100):
            if number == 30:
                replica.stop(keep_data=True)
            if number == 60:
                replica.start()
            with connect(url, settings) as db:
                query = reports_module.partner_cards(run_context(db, settings))
                answers.append(db.query_arrow(query.sql, query.params))
                try:
                    db.insert("run_marks", pa.Table.from_pylist([{"run": number, "entry": "first try"}]), token=f"run-{number}")
                except ClusterWriteError as error:
                    refused[number] = str(error)
        assert len(answers) == 100 and all(answer.equals(answers[0]) for answer in answers)
        assert answers[0].num_rows > 0
        assert sorted(refused) == list(range(30, 60))
        assert all("does not answer" in message and "nothing was written" in message for message in refused.values())
        other_entry = f"{second.url}?cluster={own.name}"
        with connect(other_entry, settings) as db:
            for number in range(100):
                db.insert("run_marks", pa.Table.from_pylist([{"run": number, "entry": "again"}]), token=f"run-{number}")
            assert db.query_arrow("SELECT run, entry FROM run_marks ORDER BY run").to_pylist() == [
                {"run": number, "entry": "again" if number in refused else "first try"} for number in range(100)]
        for node in own.nodes:  # each copy of each shard holds its rows once
            rows = run(node, "SELECT count(), uniqExact(run) FROM run_marks_local")
            assert rows[0][0] == rows[0][1]
