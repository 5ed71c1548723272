"""Every error the product raises on purpose.

One root, ``AnalyticsError``, so a notebook or the CLI can catch "our" errors and show
their message to a person, while anything else is a bug that goes to the log. Each leaf
carries the fields a program needs and a message a non-analyst can act on.
"""

from __future__ import annotations

from collections.abc import Iterable


class AnalyticsError(Exception):
    """Root of the product's errors; ``str(error)`` is meant for the person using it."""

    hint: str = ""

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} {self.hint}".strip() if self.hint else message


class ConfigError(AnalyticsError):
    """A setting (database URL, environment variable) is missing or malformed."""


class DatabaseError(AnalyticsError):
    """Something went wrong talking to the database."""


class ServerUnreachableError(DatabaseError):
    """No ClickHouse server answered at any of the configured addresses."""

    hint = "Check that the server is running and the address is right, or ask the administrator."

    def __init__(self, hosts: Iterable[tuple[str, int]], reason: str = "") -> None:
        self.hosts = list(hosts)
        where = ", ".join(f"{host}:{port}" for host, port in self.hosts)
        detail = f" ({reason})" if reason else ""
        super().__init__(f"The database server at {where} cannot be reached{detail}.")


class AuthenticationError(DatabaseError):
    """The server refused the user name or password."""

    hint = "Check the user name and password in the database URL (ANALYTICS_DB_URL)."

    def __init__(self, user: str) -> None:
        self.user = user
        super().__init__(f"The database refused the login of user '{user}': wrong user name or password.")


class QueryError(DatabaseError):
    """The database rejected or failed a query; carries the SQL and the server's code."""

    def __init__(self, message: str, *, sql: str = "", code: int | None = None, server_message: str = "") -> None:
        self.sql = sql
        self.code = code
        self.server_message = server_message
        super().__init__(message)


class ReadOnlyAccountError(QueryError):
    """The account may only read (the reports' account, ``readonly`` profile) and a write was asked of it."""

    hint = "Writes go through the writer account: set ANALYTICS_DB_WRITER_URL."

    def __init__(self, **fields: object) -> None:
        super().__init__("This database account may only read; writing needs the writer account "
                         "(ANALYTICS_DB_WRITER_URL).", **fields)  # type: ignore[arg-type]


class QueryTimeoutError(QueryError):
    """The query ran past its time limit and was stopped."""

    hint = "Choose a shorter period or fewer partners, or ask an analyst to raise the limit."

    def __init__(self, limit_seconds: float | None, *, sql: str = "", code: int | None = None, server_message: str = "") -> None:
        self.limit_seconds = limit_seconds
        limit = f" of {limit_seconds:g} seconds" if limit_seconds else ""
        super().__init__(f"The query took longer than its time limit{limit} and was stopped.",
                         sql=sql, code=code, server_message=server_message)


class ResultTooLargeError(QueryError):
    """The result has more rows than the configured limit."""

    hint = "Narrow the filters (a shorter period, one partner), or export the result to a file instead."


class SqlSyntaxError(QueryError):
    """The SQL text does not parse; ``position`` is the 1-based character where parsing failed."""

    def __init__(self, position: int | None, *, sql: str = "", code: int | None = None, server_message: str = "") -> None:
        self.position = position
        where = ""
        if position is not None:
            snippet = sql[max(position - 1, 0):position + 29].replace("\n", " ")
            where = f" at character {position}" + (f", near '{snippet}'" if snippet else " (the end)")
        super().__init__(f"The SQL has a syntax error{where}.", sql=sql, code=code, server_message=server_message)


class UnknownTableError(QueryError):
    """A table that the database (or our catalog) does not have."""

    def __init__(self, table: str, known: Iterable[str] = (), **fields: object) -> None:
        self.table = table
        self.known = sorted(known)
        allowed = f" Known tables: {', '.join(self.known)}." if self.known else ""
        super().__init__(f"There is no table named '{table}'.{allowed}", **fields)  # type: ignore[arg-type]


class UnknownColumnError(QueryError):
    """A column name that is not among the table's known columns."""

    def __init__(self, column: str, table: str = "", known: Iterable[str] = (), **fields: object) -> None:
        self.column = column
        self.table = table
        self.known = list(known)
        in_table = f" in table '{table}'" if table else ""
        allowed = f" Allowed columns: {', '.join(self.known)}." if self.known else ""
        super().__init__(f"There is no column named '{column}'{in_table}.{allowed}", **fields)  # type: ignore[arg-type]


class ParameterError(AnalyticsError):
    """A value given for a query or report parameter is not acceptable."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        super().__init__(f"The value {shown} for '{name}' is not accepted: {allowed}.")


class StoreError(DatabaseError):
    """The embedded store's files are missing or inconsistent."""


class ServiceError(AnalyticsError):
    """An outside service (Amplitude, Slack, amoCRM) refused or failed a request; the message says what to do."""

    def __init__(self, message: str, *, service: str = "", status: int | None = None) -> None:
        self.service = service
        self.status = status
        super().__init__(message)


class ServiceUnavailableError(ServiceError):
    """The service did not answer, or kept answering 'busy' or 'error' after every retry."""


class CohortError(ServiceError):
    """A cohort cannot be used: unknown, empty, or not ready in time."""
