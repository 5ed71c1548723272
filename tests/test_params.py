"""Parameters declared once in the notebook: papermill's inspection, conversion, rules, links."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from analytics.params import FormInvalid, declaration, parse_kind, resolve, values_from_query

from .conftest import REPO
from .test_sql_binding import HOSTILE

PLASTIC = REPO / "notebooks" / "account_managers" / "plastic_cards.ipynb"
BUILDER = REPO / "notebooks" / "analysts" / "export_builder.ipynb"


def test_papermill_lists_every_parameter_with_type_default_and_help() -> None:
    shown = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(PLASTIC)],
                           capture_output=True, text=True, check=True).stdout
    for parameter in declaration(PLASTIC):
        assert f"{parameter.name}: " in shown and parameter.help[:30] in " ".join(shown.split())
    assert "end: EndDate[start, 92] (default \"\")" in shown


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").rglob("*.ipynb")), ids=lambda path: path.stem)
def test_our_reading_equals_papermills_inspection(notebook) -> None:  # type: ignore[no-untyped-def]
    import ast

    import papermill

    theirs = papermill.inspect_notebook(str(notebook))
    ours = declaration(notebook)
    assert [p.name for p in ours] == list(theirs)
    for parameter in ours:
        seen = theirs[parameter.name]
        assert ast.literal_eval(seen["default"]) == parameter.default
        assert seen["help"] == f"{parameter.label}: {parameter.help}"
        assert seen["inferred_type_name"] == type(parameter.kind).__name__ or seen["inferred_type_name"] in (
            "str", "int", "bool", "date", "Digits", "Code", "Partner") or "[" in seen["inferred_type_name"]


def test_declaration_reads_kinds_labels_and_defaults() -> None:
    parameters = {p.name: p for p in declaration(BUILDER)}
    assert parameters["table"].kind.options({})[0] == ("cards", "cards")
    assert parameters["columns"].default == ["card_id", "partner_id", "added_at"]
    assert parameters["columns"].label == "Columns" and "file contains" in parameters["columns"].help


def test_values_are_converted_the_same_from_papermill_and_from_a_link() -> None:
    parameters = declaration(PLASTIC)
    injected = resolve(parameters, {"partner_id": 3, "start": "2026-10-01", "end": dt.date(2026, 10, 31)})
    linked = resolve(parameters, values_from_query("partner_id=3&start=2026-10-01&end=2026-10-31"))
    assert injected == linked == {"partner_id": 3, "start": dt.date(2026, 10, 1), "end": dt.date(2026, 10, 31),
                                  "csv_delimiter": "semicolon"}


@pytest.mark.parametrize(("given", "field", "message"), [
    ({"start": "2026-10-31", "end": "2026-10-01"}, "end", "on or after the first day"),
    ({"start": "2026-01-01", "end": "2026-12-31"}, "end", "at most 92 days"),
    ({"start": "31.10.2026"}, "start", "YYYY-MM-DD"),
    ({"partner_id": "3; DROP TABLE cards"}, "partner_id", "whole number"),
    ({"partner_id": True}, "partner_id", "a partner from the list"),
    ({"csv_delimiter": "tab"}, "csv_delimiter", "one of: comma, semicolon"),
    ({"unknown": 1}, "unknown", "not a parameter"),
])
def test_rules_name_the_field(given: dict, field: str, message: str) -> None:
    with pytest.raises(FormInvalid) as caught:
        resolve(declaration(PLASTIC), given)
    assert message in caught.value.errors[field]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_in_every_kind_are_refused_or_kept_as_text(value: str) -> None:
    for annotation in ("int", "date", "Digits", "Code", "Partner", "Choice[a, b]"):
        with pytest.raises(ValueError):
            parse_kind(annotation).convert(value)
    if len(value) > 1000:
        with pytest.raises(ValueError, match="at most 1000 characters"):
            parse_kind("str").convert(value)
    else:
        assert parse_kind("str").convert(value) == value.strip()


def test_columns_must_come_from_the_whitelist() -> None:
    parameters = declaration(BUILDER)
    assert resolve(parameters, {"table": "events", "columns": ["event", "user_id"]})["columns"] == ["event", "user_id"]
    with pytest.raises(FormInvalid, match="unknown column 'card_number FROM users --'"):
        resolve(parameters, {"table": "cards", "columns": ["card_number FROM users --"]})
    with pytest.raises(FormInvalid, match="unknown column 'card_number'"):
        resolve(parameters, {"table": "events", "columns": ["card_number"]})
    with pytest.raises(FormInvalid, match="one of: cards"):
        resolve(parameters, {"table": "system.users"})


@pytest.mark.parametrize("annotation", ["str[required]", "Digits[required]", "Code[required]", "Digits[12, required]"])
def test_required_values(annotation: str) -> None:
    with pytest.raises(ValueError, match="is required"):
        parse_kind(annotation).convert("  ")
    assert parse_kind(annotation).convert("42") == "42"
    assert parse_kind(annotation.replace("required", "").replace(", ]", "]").replace("[]", "")).convert("") == ""
