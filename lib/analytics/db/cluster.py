"""A ClickHouse cluster as one database: ``clickhouse://…/db?cluster=NAME`` (issue "Past one machine", first step).

Each table of a :class:`TableSpec` becomes a local table ``<name>_local`` on every node of the cluster (as
``system.clusters`` lists them) and a ``Distributed`` table ``<name>`` over them, so every query the reports
run reads the whole cluster under the name it always used. Keyed tables are sharded by a hash of their key, so
every version of a key lives on one shard and "the highest version wins" (``LIMIT 1 BY``) stays right;
other tables by ``rand()``. Inserts go through the Distributed table with ``insert_distributed_sync``, so a
write is on its shards when it returns.

Writes need every replica: the Distributed table writes each copy itself (no ZooKeeper, no replicated tables), so
with one replica down a write would land on some copies and fail on others. A write first checks that every
node answers and, if one does not, is refused whole with :class:`ClusterWriteError` (reads go on, from the other
replica). The bookkeeping tables (insert tokens, table declarations) are the cluster's, local on every node and
read through a Distributed table, not the entry node's: a write retried through another node after a failover
finds its token and lands once.

DDL is run on each node in turn, not ``ON CLUSTER``: that needs ZooKeeper, which a cluster of plain replicas
(``internal_replication`` false, the Distributed table writing every replica) does not have. Whole-partition
swaps, compaction and garbage collection work on one server's parts and are refused here until they learn to
run shard by shard.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import pyarrow as pa
from clickhouse_driver import Client

from ..config import Settings
from ..errors import ConfigError, DatabaseError, QueryError
from .base import WriteReport
from .server import TOKENS, ServerDatabase, table_ddl
from .sql import Identifier, bind, compose, identifier
from .tables import TableSpec

LOCAL_SUFFIX = "_local"
_LIMIT_BY = re.compile(r"\bLIMIT\s+[^()]+?\s+BY\b", re.IGNORECASE)
_LIMIT = re.compile(r"\bLIMIT\b", re.IGNORECASE)
NODE_CHECK_SECONDS = 2.0  # a node that does not accept a connection within this is down for a write


class ClusterWriteError(DatabaseError):
    """A write while a node of the cluster does not answer: refused before anything was written."""

    hint = "Reports still read. Try the write again when the node is back, or ask the administrator."


class ClusterDatabase(ServerDatabase):
    kind = "cluster"

    def __init__(self, url: str, settings: Settings, *, read_only: bool = False) -> None:
        parts = urlsplit(url)
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.cluster = options.pop("cluster", "")
        if not self.cluster:
            raise ConfigError("A cluster URL names its cluster: clickhouse://user:password@host:9000/db?cluster=NAME")
        super().__init__(urlunsplit(parts._replace(query=urlencode(options))), settings, read_only=read_only)
        self._password = unquote(parts.password or "")
        self._client.settings["insert_distributed_sync"] = 1  # a write is on its shards when the call returns
        # `x IN (SELECT … FROM <distributed>)` (the ledger's "committed rows") runs its subquery once, on the node
        # asked, and ships the answer to the shards: what the query means, instead of 18.16's refusal
        self._client.settings["distributed_product_mode"] = "global"
        self._internal_made: set[str] = set()

    # --- the nodes ----------------------------------------------------------------------------------
    def nodes(self) -> list[tuple[str, int]]:
        """(host, port) of every replica of every shard, from ``system.clusters`` of the connected node."""
        rows = self._call("execute", bind("SELECT host_address, port FROM system.clusters WHERE cluster = %(c)s "
                                          "ORDER BY shard_num, replica_num", {"c": self.cluster}))
        if not rows:
            raise ConfigError(f"The server knows no cluster '{self.cluster}': add it to remote_servers in its config.")
        return [(host, int(port)) for host, port in rows]

    def _on_every_node(self, statements: Iterable[str]) -> None:
        todo = list(statements)
        for host, port in self.nodes():
            client = Client(host, port=port, user=self.user, password=self._password, database=self.database,
                            client_name="analytics")
            try:
                for statement in todo:
                    client.execute(statement)
            finally:
                client.disconnect()

    def _every_node_answers(self) -> None:
        for host, port in self.nodes():
            try:
                socket.create_connection((host, port), timeout=NODE_CHECK_SECONDS).close()
            except OSError:
                raise ClusterWriteError(
                    f"The cluster's node {host}:{port} does not answer, and a write must reach every copy of its "
                    "shard: nothing was written. Reports still read from the other copies; try again when it is "
                    "back.") from None

    # --- bookkeeping, shared by every entry node ----------------------------------------------------------
    def _ensure_internal(self, name: str, definition: str) -> None:
        if name in self._internal_made:
            return
        local = name + LOCAL_SUFFIX
        self._on_every_node(["CREATE TABLE IF NOT EXISTS " + local + " " + definition,
                             f"CREATE TABLE IF NOT EXISTS {name} AS {local} ENGINE = Distributed("
                             f"'{_plain(self.cluster)}', '{_plain(self.database)}', {local}, rand())"])
        self._internal_made.add(name)

    def _forget_tokens(self, name: str) -> None:
        if TOKENS not in self._table_names():
            return
        local = TOKENS + LOCAL_SUFFIX
        self._on_every_node([bind("ALTER TABLE " + local + " DELETE WHERE table = %(t)s", {"t": name})])
        count = bind("SELECT count() FROM " + TOKENS + " WHERE table = %(t)s", {"t": name})
        deadline = time.monotonic() + 30
        while self._call("execute", count)[0][0] and time.monotonic() < deadline:  # each node's mutation
            time.sleep(0.05)

    # --- writing --------------------------------------------------------------------------------------------
    def _insert_arrow(self, table: str, chunks: Iterable[pa.Table], token: str | None) -> WriteReport:
        self._every_node_answers()
        return super()._insert_arrow(table, chunks, token)

    # --- catalog ------------------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        return [name for name in super().tables() if not name.endswith(LOCAL_SUFFIX)]

    def _create(self, spec: TableSpec, name: Identifier) -> None:
        """The table as a local one on every node and a Distributed one over them (``create_table`` checks and
        registers it as on one server)."""
        local = f"{spec.name}{LOCAL_SUFFIX}"
        self._on_every_node([table_ddl(spec, identifier(local, [local], kind="table")),
                             self._distributed_ddl(spec, local)])

    def _distributed_ddl(self, spec: TableSpec, local: str) -> str:
        key = [identifier(column, spec.columns, table=spec.name) for column in spec.key]
        sharding = compose("cityHash64({k})", k=key) if key else "rand()"
        names = {"t": identifier(spec.name, [spec.name], kind="table"), "l": identifier(local, [local], kind="table")}
        return (compose("CREATE TABLE IF NOT EXISTS {t} AS {l} ENGINE = Distributed(", **names)
                + f"'{_plain(self.cluster)}', '{_plain(self.database)}', " + compose("{l}, ", **names) + sharding + ")")

    def drop_table(self, name: str) -> None:
        self._refuse_if_read_only("drop table", name)
        local = f"{name}{LOCAL_SUFFIX}"
        self._on_every_node([compose("DROP TABLE IF EXISTS {t}", t=identifier(name, [name], kind="table")),
                             compose("DROP TABLE IF EXISTS {t}", t=identifier(local, [local], kind="table"))])
        super().drop_table(name)  # and its insert tokens

    # --- what works on one server's parts only ---------------------------------------------------------
    def replace_partitions(self, table: str, partitions: Mapping[Any, Any]) -> int:
        raise _not_yet("Replacing whole partitions")

    def drop_partitions(self, table: str, partitions: Iterable[Any]) -> None:
        raise _not_yet("Dropping partitions")

    def compact(self, table: str | None = None) -> int:
        return 0  # each shard merges its own parts in the background

    def _stream(self, bound_sql: str, settings: dict[str, Any]) -> Iterator[pa.Table]:
        if limit_by_then_limit(bound_sql):
            raise QueryError("This query has LIMIT … BY and then LIMIT in one SELECT: on a cluster of ClickHouse 18.16 "
                             "that gives wrong rows over Distributed tables. Put the LIMIT … BY in a subquery.",
                             sql=bound_sql)
        return super()._stream(bound_sql, settings)


def limit_by_then_limit(sql: str) -> bool:
    """Whether one SELECT of ``sql`` has ``LIMIT n BY`` and then ``LIMIT m`` (outside string literals).

    ClickHouse 18.16 applies both on each shard and then only the ``LIMIT`` on the initiator, so over a Distributed
    table the ``BY`` groups come out wrong; a ``LIMIT … BY`` inside a subquery, with the ``LIMIT`` outside, is right.
    """
    code = re.sub(r"'(?:\\.|[^'\\])*'", "''", sql)  # values are bound as literals: their words are not SQL
    for found in _LIMIT_BY.finditer(code):
        depth = 0
        for position in range(found.end(), len(code)):
            depth += {"(": 1, ")": -1}.get(code[position], 0)
            if depth < 0:
                break  # the subquery holding the LIMIT … BY ended
            if depth == 0 and _LIMIT.match(code, position) and not code[position - 1].isalnum():
                return True
    return False


def _plain(text: str) -> str:
    """A cluster or database name as ClickHouse takes it inside quotes: letters, digits and underscores only."""
    if not text.replace("_", "").isalnum():
        raise ConfigError(f"'{text}' is not a plain name (letters, digits, underscores).")
    return text


def _not_yet(what: str) -> DatabaseError:
    return DatabaseError(f"{what} is not done on a cluster yet (it swaps one server's parts); run it on one server.")
