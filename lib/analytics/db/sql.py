"""Putting values and names into SQL safely.

Values are never formatted into SQL by hand: :func:`bind` escapes them with
clickhouse-driver's own escaping (the ``%(name)s`` style), for both backends, so the
embedded store and the server see byte-identical SQL. Identifiers (tables, columns)
cannot be escaped meaningfully, so they are checked against known names and then
quoted: :func:`compose` refuses anything that is not an :class:`Identifier`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from ..errors import ParameterError, QueryError, UnknownColumnError, UnknownTableError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_SCALARS = (str, int, float, Decimal, dt.date, dt.datetime, type(None))

# clickhouse-driver only needs the server's time zone from its context, to render
# datetimes; we keep every DateTime in UTC, on both backends.
_UTC_CONTEXT = SimpleNamespace(server_info=SimpleNamespace(get_timezone=lambda: "UTC"))


def _driver_escaping() -> Any:
    """clickhouse-driver's own ``util/escape.py`` (standard library and pytz only), loaded without the package.

    Importing ``clickhouse_driver.util.escape`` runs the package's ``__init__``, which loads the whole client
    (about 25 MB in a fresh process) into every report kernel of the embedded store, where nothing else of the
    driver is used. Where the driver is already loaded (a server connection), its module is taken as it is.
    """
    if "clickhouse_driver" in sys.modules:
        from clickhouse_driver.util import escape  # noqa: PLC0415 - the loaded driver's own module

        return escape
    package = importlib.util.find_spec("clickhouse_driver")  # finds the folder, runs nothing
    if package is None or not package.submodule_search_locations:
        raise ImportError("clickhouse-driver is not installed: `make setup` installs it")
    location = f"{package.submodule_search_locations[0]}/util/escape.py"
    spec = importlib.util.spec_from_file_location("clickhouse_driver_escape", location)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


escape_params = _driver_escaping().escape_params


def bind(sql: str, params: Mapping[str, Any] | None) -> str:
    """Return ``sql`` with every ``%(name)s`` replaced by the escaped value of ``params[name]``.

    Without params the SQL is returned unchanged (a literal ``%`` needs no doubling then);
    with params, write a literal ``%`` as ``%%``. Types outside str/int/float/Decimal/date/
    datetime/None (and lists or tuples of them) are refused rather than turned into text.
    """
    if not params:
        return sql
    missing = sorted(set(_PLACEHOLDER.findall(sql)) - set(params))
    if missing:
        raise ParameterError(missing[0], None, "the query uses this parameter but no value was given")
    prepared = {name: _prepare(name, value) for name, value in params.items()}
    try:
        return sql % escape_params(prepared, _UTC_CONTEXT)
    except (ValueError, TypeError) as error:
        raise QueryError(f"The SQL text cannot take parameters ({error}); write a literal % as %% "
                         "and every parameter as %(name)s.", sql=sql) from None


def _prepare(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)  # ClickHouse 18 has no true/false literals
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(name, value, "a finite number")
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, (list, tuple)):
        return type(value)(_prepare(name, item) for item in value)
    if not isinstance(value, _SCALARS):
        raise ParameterError(name, value, "text, a number, a date or time, or a list of those")
    return value


class Identifier(str):
    """A table or column name that was checked against the names we know."""

    __slots__ = ()

    @property
    def quoted(self) -> str:
        return f"`{self}`"


def identifier(name: str, known: Iterable[str], *, kind: str = "column", table: str = "") -> Identifier:
    """Check ``name`` against ``known`` names before anything reaches the database."""
    known = list(known)
    if not isinstance(name, str) or name not in known or not _IDENTIFIER.match(name):
        if kind == "table":
            raise UnknownTableError(str(name), known)
        raise UnknownColumnError(str(name), table, known)
    return Identifier(name)


def compose(template: str, **parts: Identifier | Sequence[Identifier]) -> str:
    """Fill ``{name}`` slots of a SQL template with checked identifiers (lists become ``a, b``).

    Only :class:`Identifier` values are accepted, so user text cannot reach the SQL
    through this door; values go through :func:`bind` instead.
    """
    rendered: dict[str, str] = {}
    for slot, part in parts.items():
        items = [part] if isinstance(part, str) else list(part)
        if not items or not all(isinstance(item, Identifier) for item in items):
            raise TypeError(f"compose() slot '{slot}' takes checked Identifier values, got {part!r}")
        rendered[slot] = ", ".join(item.quoted for item in items)
    return template.format(**rendered)


def sql_string(text: str) -> str:
    """A string literal, escaped like a bound value (for paths in table functions)."""
    return bind("%(text)s", {"text": text})
