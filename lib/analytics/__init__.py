"""Self-service analytics notebooks: the library the report notebooks call.

What notebooks may use is named here; everything else is internal.
"""

from .config import Settings, load_settings
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
