"""Hostile input everywhere, as properties (hypothesis; seeded and bounded by the "ci" profile in conftest.py).

Every parameter kind of every report, through the link, the form's widget messages, `analytics run`'s names,
the SQL binding and the export file names, is fed SQL fragments, quotes, control characters, path
separators, huge and empty values and odd Unicode. What must hold: nothing reaches SQL unescaped (a bound
value comes back from the database as itself), no file lands outside its folder, no traceback reaches a
person, and every value is either accepted as itself or refused next to its own field.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from traitlets import TraitError

from analytics import Database, connect, load_settings
from analytics.access.identity import user_folder
from analytics.catalog import report_notebooks
from analytics.db.sql import identifier
from analytics.errors import AnalyticsError
from analytics.exports import export_name
from analytics.forms import ReportForm
from analytics.page import prefilled
from analytics.params import FormInvalid, check_names, declaration, resolve, values_from_query
from analytics.web.handlers import EXPORT_NAME

from .conftest import REPO

NOTEBOOKS = report_notebooks(REPO / "notebooks")
PARAMETERS = {path.relative_to(REPO / "notebooks").as_posix(): declaration(path) for path in NOTEBOOKS}
FIELDS = [(report, parameter) for report, parameters in PARAMETERS.items() for parameter in parameters]
FRAGMENTS = ["'; DROP TABLE events; --", "' OR 1=1 --", "\\'", "%(other)s", "%s", "{start:String}", "`x`", "$$",
             "../../etc/passwd", "..\\..\\boot.ini", "/", "\\", "\0", "\r\n", "\x1b[31m", "\u202e", "\ufeff",
             "<script>alert(1)</script>", "Ёлки «ёлочки» 👍🏽", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "NaN", "-1", "1e309", "2026-02-30",
             "1970-01-01", "9999-12-31", "0x10", " 3 ", "3;4", "partner_id", "", " ", "x" * 5_000]
LOOKUP_ROWS = [("Лента", 3), ("ВкусВилл", 5), ("<b>bold</b>", 7), ("O'Reilly", 9)]
hostile_text = st.one_of(st.sampled_from(FRAGMENTS),
                         st.text(st.characters(codec="utf-8"), max_size=60),
                         st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map("".join))
hostile_value = st.one_of(hostile_text, st.lists(hostile_text, max_size=3), st.integers(), st.none(), st.booleans(),
                          st.floats(allow_nan=True))
LEAKS = ("Traceback", "site-packages", "File \"/", str(REPO))


def lookups(source: str) -> list:
    return [("promo_weekly", "promo_weekly")] if source == "raffles" else LOOKUP_ROWS  # the raffle's default is set up


def same(raw: object, value: object) -> bool:
    """``value`` is ``raw`` converted, never another value put in its place."""
    text = str(raw).strip() if raw is not None else ""
    if value is None:
        return text in ("", "None")
    if isinstance(value, bool):
        return isinstance(raw, (bool, int)) or text.lower() in ("", "0", "1", "true", "false", "yes", "no", "on", "off")
    if isinstance(value, dt.date):
        return raw == value or text == value.isoformat()
    if isinstance(value, int):
        try:
            return raw == value or int(text) == value
        except ValueError:
            return False
    if isinstance(value, str):
        return text == value or (value == "" and raw in (None, False, 0))
    if isinstance(value, list):
        items = raw if isinstance(raw, list) else [item for item in text.split(",")] if text else []
        return [str(item).strip() for item in items if str(item).strip()] == [str(item) for item in value]
    return True


@pytest.mark.parametrize(("report", "parameter"), FIELDS, ids=[f"{r}:{p.name}" for r, p in FIELDS])
@given(raw=hostile_value)
def test_every_kind_accepts_a_value_as_itself_or_refuses_it_beside_its_field(report, parameter, raw) -> None:  # type: ignore[no-untyped-def]
    parameters = PARAMETERS[report]
    try:
        values = resolve(parameters, {parameter.name: raw}, lookups)
    except FormInvalid as invalid:
        assert set(invalid.errors) <= {p.name for p in parameters}  # beside a field, never elsewhere
        assert all(text and not any(leak in text for leak in LEAKS) for text in invalid.errors.values())
        assert all(len(text) < 400 for text in invalid.errors.values())
        return
    value = values[parameter.name]
    assert same(raw, value) or raw == parameter.default, (raw, value)
    assert resolve(parameters, {parameter.name: value}, lookups)[parameter.name] == value  # a fixed point


@pytest.mark.parametrize("report", list(PARAMETERS))
@given(link=st.dictionaries(st.one_of(st.sampled_from(["partner_id", "start", "end", "columns", "push_id", "user"]),
                                      hostile_text), hostile_text, max_size=4))
def test_a_hostile_link_fills_fields_or_says_why_not(report, link) -> None:  # type: ignore[no-untyped-def]
    parameters = PARAMETERS[report]
    given_values = values_from_query(urlencode(link))
    defaults = {p.name: p.default for p in parameters}
    values, errors = prefilled(parameters, defaults, given_values, lookups)
    assert set(values) <= {p.name for p in parameters}
    for name, text in errors.items():
        assert not any(leak in text for leak in LEAKS) and len(text) < 400
        assert name in values or (len(name) <= 64 and any(str(key).startswith(name) for key in given_values))


@given(name=hostile_text)
def test_analytics_run_refuses_any_name_that_is_not_a_parameter(name: str) -> None:
    parameters = PARAMETERS["account_managers/plastic_cards.ipynb"]
    if name in {p.name for p in parameters}:
        return
    with pytest.raises(FormInvalid) as refused:
        check_names(parameters, {name: "1"})
    assert all(len(key) <= 64 for key in refused.value.errors)


@pytest.fixture(scope="module")
def store(embedded_url: str) -> Iterator[Database]:
    with connect(embedded_url) as db:
        yield db


@given(value=hostile_text)
def test_a_bound_value_reaches_the_database_as_itself(value: str, store: Database) -> None:
    value = value.replace("\0", "")[:20_000]  # chDB's API takes C strings; NUL on the server: test_sql_binding
    assert store.scalar("SELECT %(v)s AS v", {"v": value}) == value
    names = set(store.query_arrow("SELECT name FROM partners").column("name").to_pylist())
    expected = 1 if value in names else 0  # the condition stays one comparison with one literal
    assert store.scalar("SELECT count() FROM partners WHERE name = %(v)s", {"v": value}) == expected


@given(name=hostile_text)
def test_identifiers_are_only_known_names(name: str) -> None:
    known = ["event_time", "event", "user_id"]
    if name in known:
        assert identifier(name, known) == name
        return
    with pytest.raises(AnalyticsError):
        identifier(name, known)


@given(key=st.dictionaries(st.sampled_from(["partner", "start", "user", "push"]), hostile_value, max_size=3),
       report=st.sampled_from(["plastic_cards", "export_builder"]), person=hostile_text)
def test_export_files_land_in_their_own_folder(key, report, person, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    name = export_name(report, key, "csv")
    folder = user_folder(person)
    assert "/" not in name and "\\" not in name and "\0" not in name and EXPORT_NAME.match(name)
    assert "/" not in folder and folder not in ("", ".", "..") and not folder.startswith(".")
    root = Path("/srv/reports/exports")
    assert (root / folder / name).resolve().parent.parent == root


@pytest.mark.parametrize("report", ["account_managers/plastic_cards.ipynb", "analysts/export_builder.ipynb",
                                    "admin/audit_trail.ipynb"])
@given(messages=st.lists(st.tuples(st.integers(min_value=0, max_value=20), hostile_value), min_size=1, max_size=4))
def test_widget_messages_with_hostile_values_never_show_a_traceback(report, messages, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    parameters = PARAMETERS[report]
    seen: list[dict] = []

    def run(raw, progress, cancelled, run_id):  # type: ignore[no-untyped-def]
        seen.append(raw)
        resolve(parameters, raw, lookups)  # the pipeline's first step: refuses by field, or would run
        raise FormInvalid({parameters[0].name: "stop here"})

    settings = load_settings(home=tmp_path_factory.getbasetemp() / "widget-messages")
    form = ReportForm(parameters, {}, lambda p, v: p.kind.options(v, lookups), run, settings)
    inputs = [field.input for field in form.fields.values()]
    for index, value in messages:
        widget = inputs[index % len(inputs)]
        target = widget.children[0] if hasattr(widget, "children") and widget.children else widget
        try:
            target.set_state({"value": value})  # what a comm "update" message does
        except (TraitError, TypeError, ValueError, KeyError, AttributeError):
            pass  # the widget refuses the value and keeps its own; the websocket hides the kernel's error message
    form.run_button.click()
    deadline = time.monotonic() + 10
    while form._busy.locked() and time.monotonic() < deadline:  # noqa: SLF001 - waiting for the run thread
        time.sleep(0.01)
    shown = form.status.value + form.results.value + "".join(field.error.value for field in form.fields.values())
    assert not any(leak in shown for leak in LEAKS)
    assert re.search(r"correct the fields|stop here", shown)  # refused beside a field, or reached the run
    assert threading.active_count() < 50
