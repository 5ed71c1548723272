"""Turning ClickHouse error codes (the same on the server and in chDB) into our errors."""

from __future__ import annotations

import re

from ..errors import (
    AuthenticationError,
    QueryError,
    QueryTimeoutError,
    ReadOnlyAccountError,
    ResultTooLargeError,
    SqlSyntaxError,
    StoreError,
    UnknownColumnError,
    UnknownTableError,
)

SYNTAX_ERROR = 62
UNKNOWN_IDENTIFIER = 47
NO_SUCH_COLUMN_IN_TABLE = 16
THERE_IS_NO_COLUMN = 8
UNKNOWN_TABLE = 60
UNKNOWN_DATABASE = 81
TIMEOUT_EXCEEDED = 159
TOO_MANY_ROWS = 158
TOO_MANY_ROWS_OR_BYTES = 396
WRONG_PASSWORD = 193
REQUIRED_PASSWORD = 194
UNKNOWN_USER = 192
AUTHENTICATION_FAILED = 516
QUERY_WAS_CANCELLED = 394
READONLY = 164

_CODE = re.compile(r"Code:\s*(\d+)")
_POSITION = re.compile(r"failed at position (\d+)")
_QUOTED = re.compile(r"(?:identifier|column|Missing columns)[:\s]*[`']?(\w+(?:\.\w+)*)", re.IGNORECASE)
_TABLE = re.compile(r"Table ([\w.`]+) (?:doesn't|does not) exist|Unknown table expression identifier '([\w.]+)'")


def server_message(text: str) -> str:
    """The first line of a server exception, without the stack trace 18.x appends."""
    text = text.split("Stack trace:")[0].strip()
    text = re.sub(r"^Code:\s*\d+\.?\s*", "", text)
    return text.replace("DB::Exception: ", "").strip()


def code_of(text: str) -> int | None:
    found = _CODE.search(text)
    return int(found.group(1)) if found else None


def translate(code: int | None, text: str, *, sql: str, user: str = "", limit_seconds: float | None = None) -> Exception:
    """Map a ClickHouse failure to the most specific error we have."""
    message = server_message(text)
    fields = {"sql": sql, "code": code, "server_message": message}
    if code == SYNTAX_ERROR:
        found = _POSITION.search(message)
        return SqlSyntaxError(int(found.group(1)) if found else None, **fields)  # type: ignore[arg-type]
    if code == TIMEOUT_EXCEEDED:
        return QueryTimeoutError(limit_seconds, **fields)  # type: ignore[arg-type]
    if code in (TOO_MANY_ROWS, TOO_MANY_ROWS_OR_BYTES):
        return ResultTooLargeError("The result has more rows than a report may show at once.", **fields)  # type: ignore[arg-type]
    if code == READONLY:
        return ReadOnlyAccountError(**fields)
    if code in (WRONG_PASSWORD, REQUIRED_PASSWORD, UNKNOWN_USER, AUTHENTICATION_FAILED):
        return AuthenticationError(user or "default")
    if code in (UNKNOWN_TABLE, UNKNOWN_DATABASE):
        found = _TABLE.search(message)
        name = next((group for group in found.groups() if group), "") if found else ""
        return UnknownTableError(name.replace("`", "").split(".")[-1] or "?", **fields)
    if code in (UNKNOWN_IDENTIFIER, NO_SUCH_COLUMN_IN_TABLE, THERE_IS_NO_COLUMN):
        found = _QUOTED.search(message)
        return UnknownColumnError(found.group(1) if found else "?", **fields)
    return QueryError(f"The database could not run the query: {message}", **fields)  # type: ignore[arg-type]


class UnreadableTableError(StoreError):
    """One table of the embedded store cannot be read: a folder or file this account may not open, a list of
    parts that is not a file, a part that is not a regular file (a pipe, a device, a link). Only queries that
    touch the table fail; ``file`` is the culprit relative to the store's folder (the full path is ``path``)."""

    hint = "The other tables answer; ask the administrator to check this table's files in the embedded store."

    def __init__(self, table: str, file: str, reason: str, *, path: str = "", sql: str = "") -> None:
        self.table, self.file, self.reason, self.path, self.sql = table, file, reason, path, sql
        super().__init__(f"The table '{table}' cannot be read: '{file}' {reason}.")

    def for_query(self, sql: str) -> UnreadableTableError:
        """The same fault, raised for one query (the error names its SQL for the log)."""
        return UnreadableTableError(self.table, self.file, self.reason, path=self.path, sql=sql)


class BlockedReadError(QueryTimeoutError):
    """A query stopped at its time limit because reading a file blocked (no limit inside the engine can stop
    a read the kernel holds); ``file`` is the part that blocked when it could be told, else empty."""

    hint = "Ask the administrator to check the embedded store's files; the other tables answer."

    def __init__(self, limit_seconds: float | None, *, table: str = "", file: str = "", reason: str = "",
                 sql: str = "") -> None:
        super().__init__(limit_seconds, sql=sql)
        self.table, self.file, self.reason = table, file, reason
        if file:
            self.args = (f"{self.args[0][:-1]}: reading '{file}' of table '{table}' blocked ({reason}).",)


class NotAQueryError(QueryError):
    """The embedded store runs queries (SELECT) only: a statement that writes, changes the schema or sets
    something is never run; the library's writers use :meth:`Database.insert` and its siblings."""

    def __init__(self, kind: str, *, sql: str = "") -> None:
        self.kind = kind
        super().__init__(f"The embedded store answers queries (SELECT) only; this {kind} statement was not run.",
                         sql=sql)


def is_query_text(formatted: str) -> bool:
    """Whether normalised SQL (``formatQuerySingleLine``) is a query: ``SELECT``/``WITH``, possibly in parentheses."""
    words = formatted.lstrip("( \n").split(None, 1)
    return bool(words) and words[0].upper() in ("SELECT", "WITH")
