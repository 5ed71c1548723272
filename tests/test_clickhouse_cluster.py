"""The test cluster itself (issue "Past one machine", first step): two shards of ClickHouse 18.16 on loopback, the
first with two replicas; a Distributed table spreads rows by a hash of the key, writes both replicas of a shard,
and keeps answering in full when one replica stops."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_driver import Client

from analytics.testing.clickhouse_cluster import ClickHouseCluster
from analytics.testing.clickhouse_server import ClickHouseServer


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClickHouseCluster]:
    with ClickHouseCluster() as started:
        yield started


def run(node: ClickHouseServer, sql: str, rows: list | None = None) -> list:
    client = Client("127.0.0.1", port=node.tcp_port, user=node.user, password=node.password,
                    settings={"insert_distributed_sync": 1})  # a write is on its shards when it returns
    try:
        return client.execute(sql, rows) if rows is not None else client.execute(sql)
    finally:
        client.disconnect()


def test_a_distributed_table_shards_by_key_copies_replicas_and_survives_a_stopped_replica(
        cluster: ClickHouseCluster) -> None:
    for node in cluster.nodes:
        run(node, "CREATE TABLE events_local (user_id UInt64, event String) ENGINE = MergeTree ORDER BY user_id")
        run(node, f"CREATE TABLE events AS events_local ENGINE = Distributed({cluster.name}, default, events_local, "
                  "cityHash64(user_id))")
    first, second, replica = cluster.nodes
    run(first, "INSERT INTO events (user_id, event) VALUES", [(user, "app_open") for user in range(1000)])
    counts = [run(node, "SELECT count() FROM events_local")[0][0] for node in cluster.nodes]
    assert counts[0] + counts[1] == 1000 and counts[2] == counts[0] and 0 < counts[1] < 1000
    assert run(second, "SELECT count(), uniqExact(user_id) FROM events")[0] == (1000, 1000)
    on_second = {row[0] for row in run(second, "SELECT user_id FROM events_local")}
    on_first = {row[0] for row in run(first, "SELECT user_id FROM events_local")}
    assert not on_first & on_second  # every row of a key on one shard

    first.stop()  # shard 1 answers from its other replica
    assert run(second, "SELECT count(), uniqExact(user_id) FROM events")[0] == (1000, 1000)
