"""Self-service analytics notebooks: the library the report notebooks call.

What notebooks may use is named here; everything else is internal.
"""

import os

# clickhouse-driver builds a table of every date from 1900 to 2299 (two dicts, about 20 MB) when it is imported,
# 90 ms in every kernel and command; its own switch (spelled so) fills the table on demand instead, with the
# same dates, warmed for the years a report asks about.
os.environ.setdefault("CLICKHOUSE_DRIVER_LASY_DATE_LUT", "2000-01-01:2035-12-31")

from .config import Settings, load_settings  # noqa: E402 - after the switch above
from .db import Database, TableSpec, connect
from .errors import (
    AnalyticsError,
    AuthenticationError,
    ConfigError,
    DatabaseError,
    ParameterError,
    QueryError,
    QueryTimeoutError,
    ResultTooLargeError,
    ServerUnreachableError,
    SqlSyntaxError,
    UnknownColumnError,
    UnknownTableError,
)

__all__ = [
    "AnalyticsError", "AuthenticationError", "ConfigError", "Database", "DatabaseError", "ParameterError",
    "QueryError", "QueryTimeoutError", "ResultTooLargeError", "ServerUnreachableError", "Settings",
    "SqlSyntaxError", "TableSpec", "UnknownColumnError", "UnknownTableError", "connect", "load_settings",
]
