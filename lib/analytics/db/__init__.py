"""The database layer: one interface (:class:`Database`) for the embedded store and a server.

``connect()`` picks the backend from the URL:

* ``chdb:///path/to/dir``: the embedded store (the default when nothing is configured);
* ``clickhouse://user:password@host:9000/database?alt_hosts=host2:9000``: a server.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..config import Settings, load_settings
from ..errors import ConfigError
from .base import Database, WriteReport
from .embedded import EmbeddedStore
from .sql import Identifier, bind, compose, identifier
from .tables import Partitioning, TableSpec

__all__ = ["Database", "EmbeddedStore", "Identifier", "Partitioning", "ServerDatabase", "TableSpec", "WriteReport", "bind",
           "compose", "connect", "identifier"]


def __getattr__(name: str) -> object:
    """``ServerDatabase`` on first use: its driver client stays out of the embedded store's kernels."""
    if name == "ServerDatabase":
        from .server import ServerDatabase  # noqa: PLC0415 - see above

        return ServerDatabase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def connect(url: str | None = None, settings: Settings | None = None, *, read_only: bool = False) -> Database:
    """Open the database at ``url``, or the configured one (``ANALYTICS_DB_URL``), or the embedded default.

    ``read_only=True`` is the reports' connection: it refuses every write primitive and any SQL statement
    that is not a query. The embedded store has no accounts, so this flag is its only guard; on a server
    the reports' account (``readonly = 2``) refuses writes as well.
    """
    settings = settings or load_settings()
    url = url or settings.database_url
    scheme = urlsplit(url).scheme
    if scheme == "chdb":
        path = unquote(url[len("chdb://"):])
        if not path.startswith("/"):
            raise ConfigError(f"The embedded store URL '{url}' needs an absolute folder: chdb:///path/to/dir")
        return EmbeddedStore(url, Path(path), settings, read_only=read_only)
    if scheme in ("clickhouse", "clickhouses"):
        if "cluster" in parse_qs(urlsplit(url).query):
            from .cluster import ClusterDatabase  # noqa: PLC0415 - only a cluster URL needs it

            return ClusterDatabase(url, settings, read_only=read_only)
        from .server import ServerDatabase  # noqa: PLC0415 - the driver's client only where a server is used

        return ServerDatabase(url, settings, read_only=read_only)
    raise ConfigError(f"The database URL '{url}' is not understood. Use chdb:///path/to/dir for the embedded "
                      "store or clickhouse://user:password@host:9000/database for a ClickHouse server.")
