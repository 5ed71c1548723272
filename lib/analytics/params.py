"""Report parameters, declared once: in the notebook's cell tagged ``parameters``.

Each parameter is one papermill-style line, so ``papermill --help-notebook`` lists it with
its type, default and help, papermill injects values for it, and this module reads the
very same line to build the form and to validate, both in Voilà and headless::

    partner_id: "Partner" = 0  # Partner: whose cards to list (0 = the partner with the most cards)
    start: "date" = ""  # First day: empty means 30 days before the latest data
    end: "EndDate[start, 92]" = ""  # Last day: at most 92 days after the first day
    columns: "Columns[cards]" = ["card_number", "barcode"]  # Columns: what the file contains

The annotation names a kind from :data:`KINDS` (with arguments in brackets); the comment is
``Label: help for a non-analyst``. Values arrive as Python objects (defaults, papermill) or as
text (the page's URL query string); both go through the same conversion and rules, and a
wrong value is refused with a message naming the field, never replaced by a default.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import json
import os
import re
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .errors import AnalyticsError, ParameterError
from .uploads import too_large
from .warehouse import WAREHOUSE
from .warehouse.lookups import LOOKUPS, Option, OptionsProvider

_ANNOTATION = re.compile(r"^(?P<kind>\w+)(?:\[(?P<args>[^\]]*)\])?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2105, 12, 31)  # what ClickHouse's Date and DateTime hold


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: what the form shows and the rules its value must meet."""

    name: str
    kind: Kind
    default: Any
    label: str
    help: str = ""


class FormInvalid(AnalyticsError):
    """Some values break their rules; ``errors`` maps each field to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("Some values were not accepted: " + "; ".join(f"{name}: {text}" for name, text in self.errors.items()))


# --- kinds ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """How a value is converted and checked; subclasses are the vocabulary of annotations."""

    args: tuple[str, ...] = ()
    widget: str = field(default="text", init=False)

    def convert(self, value: Any) -> Any:
        return value

    def check(self, value: Any, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> None:
        """Rules that involve other fields or the warehouse's lists; raises ValueError with a plain message."""

    def options(self, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> list[Option] | None:
        """The choices a dropdown or checkbox list offers, as (label, value)."""
        return None


def _required(kind: Kind, text: str) -> str:
    """``Kind[..., required]`` refuses an empty value."""
    if not text and "required" in kind.args:
        raise ValueError("is required")
    return text


@dataclass(frozen=True)
class Text(Kind):
    """Free text (``str``, or ``str[required]``), at most 1000 characters."""

    def convert(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be text")
        if len(value) > 1000:
            raise ValueError("must be at most 1000 characters")
        return _required(self, value.strip())


@dataclass(frozen=True)
class Integer(Kind):
    widget: str = field(default="int", init=False)

    def convert(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError("must be a whole number")
        text = str(value).strip()
        if not re.fullmatch(r"-?\d{1,18}", text):
            raise ValueError("must be a whole number, like 42")
        number = int(text)
        if len(self.args) == 2 and not int(self.args[0]) <= number <= int(self.args[1]):
            raise ValueError(f"must be between {self.args[0]} and {self.args[1]}")
        return number


@dataclass(frozen=True)
class Flag(Kind):
    widget: str = field(default="checkbox", init=False)

    def convert(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError("must be yes or no")


PAGE_DAY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")  # how every page writes a day: 01.11.2026
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # how links, schedules and `analytics run -p` write it


def parse_day(value: Any) -> dt.date:
    """A day typed in the form (dd.mm.yyyy, the one format the pages show) or given by a link, a schedule or
    ``-p`` (YYYY-MM-DD); anything else is refused with the form's own example."""
    text = value.strip() if isinstance(value, str) else ""
    typed = PAGE_DAY.fullmatch(text)
    try:
        if typed:
            return dt.date(int(typed[3]), int(typed[2]), int(typed[1]))
        if ISO_DAY.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError("is not a day of the calendar (check the month and the day)") from None
    raise ValueError("must be a day written as dd.mm.yyyy, for example 01.11.2026")


@dataclass(frozen=True)
class Date(Kind):
    """A day; empty means the report's own default (for example, the latest data)."""

    widget: str = field(default="date", init=False)

    def convert(self, value: Any) -> dt.date | None:
        if value in ("", None):
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            value = parse_day(value)
        if not FIRST_DAY <= value <= LAST_DAY:
            raise ValueError(f"must be between {FIRST_DAY:%d.%m.%Y} and {LAST_DAY:%d.%m.%Y}")
        return value


@dataclass(frozen=True)
class EndDate(Date):
    """The last day of a period: ``EndDate[start, N]`` is on or after ``start`` and spans at most N days."""

    def check(self, value: Any, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> None:
        start = values.get(self.args[0]) if self.args else None
        if value is None or not isinstance(start, dt.date):
            return
        if value < start:
            raise ValueError(f"must be on or after the first day ({start:%d.%m.%Y})")
        if len(self.args) > 1 and (value - start).days + 1 > int(self.args[1]):
            raise ValueError(f"the period can be at most {self.args[1]} days long")


@dataclass(frozen=True)
class Choice(Kind):
    """One of fixed options: ``Choice[xlsx, csv]``."""

    widget: str = field(default="dropdown", init=False)

    def convert(self, value: Any) -> str:
        if value not in self.args:
            raise ValueError(f"must be one of: {', '.join(self.args)}")
        return str(value)

    def options(self, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> list[Option]:
        return [(option, option) for option in self.args]


@dataclass(frozen=True)
class Choices(Kind):
    """Some of fixed options, at least one: ``Choices[leads, contacts, companies]``."""

    widget: str = field(default="multiselect", init=False)

    def convert(self, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise ValueError(f"must be a list of: {', '.join(self.args)}")
        chosen = list(dict.fromkeys(item.strip() for item in items if item.strip()))
        unknown = [item for item in chosen if item not in self.args]
        if unknown:
            raise ValueError(f"unknown choice {shown(unknown[0])}; allowed: {', '.join(self.args)}")
        if not chosen:
            raise ValueError("choose at least one")
        return chosen

    def options(self, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> list[Option]:
        return [(option, option) for option in self.args]


@dataclass(frozen=True)
class Lookup(Kind):
    """One of a list that comes from the warehouse: ``Lookup[partners]``; ``Lookup[regions, multiple]`` for several.

    The sources are named in :data:`analytics.warehouse.lookups.LOOKUPS`; a value outside the
    list is refused by :func:`resolve`, never replaced.
    """

    widget: str = field(default="dropdown", init=False)

    def __post_init__(self) -> None:
        if not self.args or self.args[0] not in LOOKUPS:
            raise AnalyticsError(f"Lookup needs a source, one of: {', '.join(LOOKUPS)} (for example Lookup[partners]).")
        if self.multiple:
            object.__setattr__(self, "widget", "multiselect")

    @property
    def source(self) -> str:
        return self.args[0]

    @property
    def multiple(self) -> bool:
        return "multiple" in self.args[1:]

    def convert(self, value: Any) -> Any:
        if self.multiple:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, (list, tuple)):
                raise ValueError(f"must be a list of {LOOKUPS[self.source].noun} values")
            return list(dict.fromkeys(self._one(item) for item in items if str(item).strip()))
        if value is None:
            raise ValueError(f"choose a {LOOKUPS[self.source].noun}")
        return self._one(value)

    def _one(self, value: Any) -> Any:
        source = LOOKUPS[self.source]
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"must be a {source.noun} from the list")
        text = str(value).strip()
        if source.is_numeric:
            if not re.fullmatch(r"\d{1,18}", text):
                raise ValueError(f"must be a whole number (a {source.noun}'s number), like 42")
            return int(text)
        if len(text) > 200:
            raise ValueError("is too long to be in the list")
        return text

    def check(self, value: Any, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> None:
        if lookups is None:
            return  # checked where the warehouse is at hand: resolve(..., lookups)
        options = lookups(self.source)
        allowed = {str(option): option for _, option in options}
        noun = LOOKUPS[self.source].noun
        if not options and LOOKUPS[self.source].empty and value not in ("", [], None):
            raise ValueError(LOOKUPS[self.source].empty)
        for item in value if self.multiple else [value]:
            if str(item) not in allowed:
                raise ValueError(f"there is no {noun} {shown(item)} in the list")

    def options(self, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> list[Option] | None:
        return list(lookups(self.source)) if lookups is not None else None


@dataclass(frozen=True)
class Partner(Lookup):
    """``Partner`` is ``Lookup[partners]``: a partner's number, chosen by name."""

    args: tuple[str, ...] = ("partners",)

    def __post_init__(self) -> None:
        if self.args[:1] != ("partners",):
            object.__setattr__(self, "args", ("partners", *self.args))
        super().__post_init__()


@dataclass(frozen=True)
class Columns(Kind):
    """Several columns of a catalog table: ``Columns[cards]``; ``Columns[table]`` follows the field named ``table``.

    An argument that is not a warehouse table names another parameter whose value is the table.
    """

    widget: str = field(default="multiselect", init=False)

    def table(self, values: Mapping[str, Any]) -> str:
        source = self.args[0] if self.args else ""
        return source if source in WAREHOUSE else str(values.get(source, ""))

    @property
    def follows(self) -> str | None:
        """The parameter whose value picks the table, if any."""
        return self.args[0] if self.args and self.args[0] not in WAREHOUSE else None

    def convert(self, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise ValueError("must be a list of column names")
        chosen = [item.strip() for item in items if item.strip()]
        if not chosen:
            raise ValueError("choose at least one column")
        return list(dict.fromkeys(chosen))

    def check(self, value: Any, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> None:
        known = WAREHOUSE[self.table(values)].columns if self.table(values) in WAREHOUSE else {}
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown column {shown(unknown[0])}; allowed: {', '.join(known)}")

    def options(self, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> list[Option]:
        table = self.table(values)
        if table not in WAREHOUSE:
            return []
        return [(WAREHOUSE[table].label(name), name) for name in WAREHOUSE[table].columns]


@dataclass(frozen=True)
class Digits(Kind):
    """An ID made of digits (a push ID): ``Digits``, ``Digits[12]`` for at most 12, ``Digits[required]``."""

    def convert(self, value: Any) -> str:
        text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
        limit = next((int(arg) for arg in self.args if arg.isdigit()), 20)
        if text is None or not re.fullmatch(rf"\d{{0,{limit}}}", text):
            raise ValueError(f"must be digits only (at most {limit}), like 10042")
        return _required(self, text)


@dataclass(frozen=True)
class Code(Kind):
    """A code of letters, digits, '_', '-' and '.' (a push sub_id); ``Code[required]`` refuses empty."""

    def convert(self, value: Any) -> str:
        text = str(value).strip() if isinstance(value, str) else None
        if text is None or not re.fullmatch(r"[\w.-]{0,64}", text):
            raise ValueError("may hold only letters, digits, '_', '-' and '.', at most 64 characters")
        return _required(self, text)


@dataclass(frozen=True)
class AmplitudeCohort(Code):
    """An Amplitude cohort's ID, typed or pasted as its page's address: ``AmplitudeCohort[required]``.

    People copy the browser's address bar rather than hunt for the ID in it, so both
    ``https://app.amplitude.com/analytics/demo/cohort/abc123`` and ``…?cohortId=abc123`` give ``abc123``;
    a link to anywhere else is refused (its ID would be a guess), and the ID then meets :class:`Code`'s rules.
    """

    def convert(self, value: Any) -> str:
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, str) and re.match(r"(?i)^(https?:)?//|^[\w.-]*amplitude\.com/", text):
            text = cohort_from_link(text)
        return super().convert(text)


def cohort_from_link(link: str) -> str:
    """The cohort ID in an Amplitude cohort page's address; ValueError saying what a cohort link looks like."""
    parts = urlsplit(link if "//" in link else "https://" + link)
    host = (parts.hostname or "").lower()
    if not (host == "amplitude.com" or host.endswith(".amplitude.com")):
        raise ValueError("is a link, but not to Amplitude: paste the cohort's ID or the address of its page in "
                         "Amplitude (like https://app.amplitude.com/analytics/yourorg/cohort/abc1def)")
    query = parse_qs(parts.query)
    for key in ("cohortId", "cohort_id", "cohort"):
        if query.get(key):
            return query[key][0].strip()
    segments = [segment for segment in parts.path.split("/") if segment]
    if "cohort" in segments and segments.index("cohort") + 1 < len(segments):
        return segments[segments.index("cohort") + 1]
    raise ValueError("is a link to Amplitude but not to a cohort: open the cohort in Amplitude and copy the address "
                     "of its page (it has /cohort/ and the ID in it)")


@dataclass(frozen=True)
class File(Kind):
    """A file: ``File[csv, xlsx]`` names the extensions taken (any letter case). The form uploads it into the
    person's private folder (:mod:`analytics.uploads`); headless (``-p source /data/list.csv``) the value is a
    path. Either way the report receives a :class:`~pathlib.Path` to a readable file within the size limit."""

    widget: str = field(default="file", init=False)

    @property
    def extensions(self) -> tuple[str, ...]:
        return tuple(arg.lower().lstrip(".") for arg in self.args if arg != "required")  # `required`: no default run

    def check_name(self, name: str) -> None:
        """Refuse a file whose extension is not one of the declared (ValueError saying which are)."""
        if self.extensions and Path(name).suffix.lower().lstrip(".") not in self.extensions:
            raise ValueError(f"must be a {' or '.join('.' + extension for extension in self.extensions)} file, "
                             f"not {shown(name)}")

    def convert(self, value: Any) -> Path:
        if value in ("", None):
            raise ValueError("choose a file")
        if not isinstance(value, (str, Path)) or "\x00" in str(value) or len(str(value)) > 4096:
            raise ValueError("must be the path of a file")
        path = Path(value).expanduser()
        self.check_name(path.name)
        try:
            if not path.exists():
                raise ValueError(f"no such file {path}")
            if not path.is_file():
                raise ValueError(f"is not a file: {path}")
            size = path.stat().st_size
        except OSError as error:  # a folder on the way that may not be looked into
            raise ValueError(f"cannot be read: {path} ({error.strerror or error})") from None
        if not os.access(path, os.R_OK):
            raise ValueError(f"cannot be read: {path} (no permission)")
        refused = too_large(size)
        if refused:
            raise ValueError(refused)
        return path


@dataclass(frozen=True)
class FileColumn(Kind):
    """A column of the file another field takes: ``FileColumn[source, phone]`` names that field and the column's role.

    Empty means "guess from the header". After an upload the form offers the file's column names and picks the
    one the header suggests for the role (``analytics.hygiene.rules.suggest_mapping``); the person may change it.
    """

    widget: str = field(default="dropdown", init=False)

    @property
    def file_field(self) -> str:
        return self.args[0] if self.args else "source"

    @property
    def role(self) -> str:
        return self.args[1] if len(self.args) > 1 else ""

    def convert(self, value: Any) -> str:
        if value is None:
            return ""
        if not isinstance(value, str) or len(value) > 200 or "\x00" in value:
            raise ValueError("must be the name of one of the file's columns")
        return value.strip()

    def header(self, values: Mapping[str, Any]) -> list[str]:
        """The column names of the file in the file field, [] before there is one (or when it is no table)."""
        from .hygiene.read import header_of  # noqa: PLC0415 - only forms with a file read headers

        path = values.get(self.file_field)
        if not isinstance(path, (str, Path)) or not str(path) or not Path(path).is_file():
            return []
        try:
            return header_of(Path(path))
        except AnalyticsError:
            return []

    def suggested(self, header: list[str]) -> str:
        from .hygiene.rules import suggest_mapping  # noqa: PLC0415

        return (suggest_mapping(header).get(self.role) or "") if self.role else ""

    def check(self, value: Any, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> None:
        header = self.header(values)
        if value and header and value not in header:
            raise ValueError(f"the file has no column {shown(value)}; its columns are: {', '.join(header[:20])}")

    def options(self, values: Mapping[str, Any], lookups: OptionsProvider | None = None) -> list[Option]:
        return [("Guess from the header", ""), *((name, name) for name in self.header(values))]


def shown(value: object, limit: int = 40) -> str:
    """A refused value as a message quotes it: short, on one line (a 5,000-character paste stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


KINDS: dict[str, type[Kind]] = {
    "str": Text, "text": Text, "int": Integer, "bool": Flag, "date": Date, "EndDate": EndDate, "Choice": Choice,
    "Choices": Choices, "Partner": Partner, "Lookup": Lookup, "Columns": Columns, "Digits": Digits, "Code": Code,
    "AmplitudeCohort": AmplitudeCohort, "FileColumn": FileColumn, "File": File,
}


# --- reading the declaration ---------------------------------------------------------------------------------------

def parse_kind(annotation: str) -> Kind:
    found = _ANNOTATION.match(annotation.strip().strip("'\""))
    if not found or found.group("kind") not in KINDS:
        raise AnalyticsError(f"Unknown parameter type {annotation!r}; known: {', '.join(KINDS)}.")
    args = tuple(arg.strip() for arg in (found.group("args") or "").split(",") if arg.strip())
    return KINDS[found.group("kind")](args)


def declaration(notebook: str | Path) -> list[Parameter]:
    """The parameters of a notebook, read from its cell tagged ``parameters``.

    Each line ``name: "Kind[args]" = default  # Label: help`` is read with Python's own
    parser, the way papermill's inspection reads it (a test holds the two together);
    importing papermill itself would add a second to every page load.
    """
    cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    tagged = [cell for cell in cells if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise AnalyticsError(f"{notebook} needs exactly one cell tagged 'parameters', it has {len(tagged)}.")
    source = "".join(tagged[0]["source"]) if isinstance(tagged[0]["source"], list) else tagged[0]["source"]
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    parameters = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None
                and isinstance(node.annotation, ast.Constant) and isinstance(node.annotation.value, str)):
            raise AnalyticsError(f"{notebook}: every line of the parameters cell must read "
                                 f"name: \"Kind\" = value  # Label: help (line {node.lineno}).")
        name = node.target.id
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise AnalyticsError(f"The default of '{name}' must be a plain value.") from None
        label, _, help_text = comments.get(node.end_lineno or node.lineno, "").partition(":")
        if not help_text:
            label, help_text = name.replace("_", " ").capitalize(), label
        parameters.append(Parameter(name, parse_kind(node.annotation.value), default, label.strip(), help_text.strip()))
    return parameters


def declaration_from_namespace(namespace: Mapping[str, Any]) -> list[Parameter]:
    """The parameters as the kernel saw the ``parameters`` cell run (its annotations), when the file is unknown.

    Used where no notebook path reaches the kernel (nbval, a plain Jupyter kernel); labels are
    the names, and the current values stand in for the defaults.
    """
    annotations = namespace.get("__annotations__", {})
    return [Parameter(name, parse_kind(annotation), namespace.get(name), name.replace("_", " ").capitalize())
            for name, annotation in annotations.items() if isinstance(annotation, str) and name in namespace]


def values_from_query(query_string: str) -> dict[str, Any]:
    """Raw values from a page's query string (``?partner_id=3&columns=a&columns=b``)."""
    values: dict[str, Any] = {}
    for name, items in parse_qs(query_string, keep_blank_values=True).items():
        values[name] = items if len(items) > 1 else items[0]
    return values


def unknown_names(parameters: Sequence[Parameter], given: Mapping[str, Any]) -> dict[str, str]:
    """Errors for names that are not parameters of the report (a typo must not run with a default)."""
    known = sorted(parameter.name for parameter in parameters)
    return {str(name)[:64]: f"is not a parameter of this report (its parameters: {', '.join(known)})"
            for name in given if name not in known}


def check_names(parameters: Sequence[Parameter], given: Mapping[str, Any]) -> None:
    """Refuse unknown parameter names, and any name that is not a plain identifier, before anything runs."""
    errors = unknown_names(parameters, given)
    for name in given:
        if not isinstance(name, str) or not _NAME.match(name):
            errors[str(name)[:64]] = "is not a valid parameter name"
    if errors:
        raise FormInvalid(errors)


def resolve(parameters: Sequence[Parameter], given: Mapping[str, Any],
            lookups: OptionsProvider | None = None) -> dict[str, Any]:
    """Convert and check every value (``given`` falls back to defaults); FormInvalid lists what is wrong.

    With ``lookups`` (the warehouse's lists), values of ``Lookup`` parameters must be in their list.
    """
    values: dict[str, Any] = {}
    errors = unknown_names(parameters, given)
    for parameter in parameters:
        raw = given.get(parameter.name, parameter.default)
        try:
            values[parameter.name] = parameter.kind.convert(raw)
        except ValueError as problem:
            errors[parameter.name] = str(problem)
    for parameter in parameters:
        if parameter.name in values:
            try:
                parameter.kind.check(values[parameter.name], values, lookups)
            except ValueError as problem:
                errors[parameter.name] = str(problem)
    if errors:
        raise FormInvalid(errors)
    return values


def check_effective(parameters: Sequence[Parameter], values: Mapping[str, Any], effective: Mapping[str, Any]) -> None:
    """Check the declared rules again on the values a report actually used (its defaults filled in).

    ``?start=1970-01-01`` with an empty end must not escape ``EndDate[start, 92]`` because the
    report chose the end itself. FormInvalid names the field and says what its empty value meant.
    """
    merged = {**values, **{name: value for name, value in effective.items() if name in values}}
    errors: dict[str, str] = {}
    for parameter in parameters:
        if parameter.name not in merged:
            continue
        try:
            parameter.kind.check(merged[parameter.name], merged)
        except ValueError as problem:
            errors[parameter.name] = str(problem) + _meaning(parameter.name, values, merged)
    if errors:
        raise FormInvalid(errors)


def _meaning(name: str, given: Mapping[str, Any], used: Mapping[str, Any]) -> str:
    if given.get(name) is None and used.get(name) is not None:
        value = used[name]
        shown = f"{value:%d.%m.%Y}" if isinstance(value, dt.date) else str(value)
        return f" (left empty, it means {shown})"
    return ""


def as_error(error: ParameterError) -> FormInvalid:
    """A report's own refusal of a value (an unknown partner, say), shown next to its field."""
    return FormInvalid({error.name: error.allowed})
