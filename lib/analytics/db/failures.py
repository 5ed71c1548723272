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
