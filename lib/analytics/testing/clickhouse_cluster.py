"""A ClickHouse 18.16 cluster on loopback for tests: two shards, the first with a second replica for failover.

Three ``clickhouse-server`` processes (:class:`~analytics.testing.clickhouse_server.ClickHouseServer`), each with
the same ``remote_servers`` entry naming the cluster, so a ``Distributed`` table on any of them reads (and writes)
all shards. Shard 1's two replicas are plain copies written by the Distributed table itself
(``internal_replication`` false): no ZooKeeper is needed to read or to survive one replica stopping, which is
what the failover tests exercise. (Replicated tables, which keep replicas in step on their own, need ZooKeeper.)
"""

from __future__ import annotations

from types import TracebackType

from .clickhouse_server import DEFAULT_PASSWORD, ClickHouseServer, free_port

CLUSTER = "analytics"


def remote_servers(name: str, shards: list[list[int]], user: str, password: str) -> str:
    """The ``remote_servers`` XML of a cluster whose shards are lists of loopback TCP ports (replicas)."""
    replicas = lambda ports: "".join(  # noqa: E731 - one line of XML per replica
        f"<replica><host>127.0.0.1</host><port>{port}</port><user>{user}</user><password>{password}</password>"
        f"</replica>" for port in ports)
    body = "".join(f"<shard><internal_replication>false</internal_replication>{replicas(ports)}</shard>"
                   for ports in shards)
    return f"<remote_servers><{name}>{body}</{name}></remote_servers>"


class ClickHouseCluster:
    """``shards[0]`` is shard 1's two replicas, ``shards[1]`` shard 2's one; ``nodes`` all three, first first."""

    def __init__(self, user: str = "analytics", password: str = DEFAULT_PASSWORD, name: str = CLUSTER) -> None:
        self.name, self.user, self.password = name, user, password
        self.nodes = [ClickHouseServer(user, password) for _ in range(3)]
        for node in self.nodes:
            node.tcp_port = free_port()
        self.shards = [[self.nodes[0], self.nodes[2]], [self.nodes[1]]]
        config = remote_servers(name, [[node.tcp_port for node in shard] for shard in self.shards], user, password)
        for node in self.nodes:
            node.extra_config = config

    def start(self) -> ClickHouseCluster:
        try:
            for node in self.nodes:
                node.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> ClickHouseCluster:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()
