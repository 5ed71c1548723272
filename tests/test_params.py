"""Parameters declared once in the notebook: papermill's inspection, conversion, rules, links."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analytics import Database, load_settings
from analytics.params import FormInvalid, declaration, parse_kind, resolve, values_from_query
from analytics.raffle.setup import setup
from analytics.warehouse.lookups import Lookups

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


def test_a_day_typed_as_the_pages_write_it_equals_the_linked_one() -> None:
    parameters = declaration(PLASTIC)
    typed = resolve(parameters, {"partner_id": 3, "start": "1.10.2026", "end": " 31.10.2026 "})
    assert typed == resolve(parameters, {"partner_id": 3, "start": "2026-10-01", "end": "2026-10-31"})


@pytest.mark.parametrize(("given", "field", "message"), [
    ({"start": "2026-10-31", "end": "2026-10-01"}, "end", "on or after the first day"),
    ({"start": "2026-01-01", "end": "2026-12-31"}, "end", "at most 92 days"),
    ({"start": "31/10/2026"}, "start", "dd.mm.yyyy"),
    ({"start": "31.02.2026"}, "start", "not a day of the calendar"),
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


# --- fields a person cannot get wrong: a push from a list, a raffle that is set up, a pasted cohort link --------

PUSH_REPORT = REPO / "notebooks" / "account_managers" / "push_report.ipynb"
RAFFLE = REPO / "notebooks" / "marketing" / "raffle.ipynb"
AUDIENCES = [REPO / "notebooks" / "marketing" / name for name in ("push_audience.ipynb", "retargeting_audience.ipynb")]
TOO_LONG = "7" * 5_000


def test_no_help_text_explains_a_magic_value_of_a_dropdown() -> None:
    for notebook in sorted((REPO / "notebooks").rglob("*.ipynb")):
        for parameter in declaration(notebook):
            if parameter.kind.widget in ("dropdown", "multiselect"):
                assert not re.search(r"\b0 (means|=)", parameter.help), (notebook.name, parameter.name)


def test_the_push_is_picked_from_a_list_of_dated_titles(embedded: Database) -> None:
    lookups = Lookups(embedded)
    parameters = declaration(PUSH_REPORT)
    options = parameters[0].kind.options({}, lookups)
    newest = embedded.query_arrow("SELECT push_id, title, sub_id, created_at FROM pushes ORDER BY created_at DESC"
                                  " LIMIT 1").to_pylist()[0]
    assert options[0] == (f"The latest push: {options[1][0]}", 0)
    assert options[1] == (f"{newest['created_at']:%d.%m.%Y} · {newest['title']} (sub_id {newest['sub_id']})",
                          newest["push_id"])
    assert len(options) == embedded.scalar("SELECT count() FROM pushes") + 1
    assert resolve(parameters, {"push_id": str(newest["push_id"])}, lookups)["push_id"] == newest["push_id"]
    assert resolve(parameters, {}, lookups)["push_id"] == 0


@pytest.mark.parametrize(("value", "message"), [
    ("1; DROP TABLE pushes --", "whole number"), ("' OR 1=1 --", "whole number"), (TOO_LONG, "whole number"),
    ("999999999", "there is no push 999999999 in the list"), ("-1", "whole number"), (True, "a push from the list"),
])
def test_a_push_that_is_not_in_the_list_is_refused_beside_its_field(embedded: Database, value: object,
                                                                   message: str) -> None:
    with pytest.raises(FormInvalid) as caught:
        resolve(declaration(PUSH_REPORT), {"push_id": value}, Lookups(embedded))
    assert list(caught.value.errors) == ["push_id"] and message in caught.value.errors["push_id"]
    assert len(caught.value.errors["push_id"]) < 120  # a 5,000-character paste is not repeated back


def test_the_raffle_is_one_of_those_set_up(scratch_store: Database, tmp_path: Path) -> None:
    parameters = declaration(RAFFLE)
    with pytest.raises(FormInvalid) as caught:
        resolve(parameters, {}, Lookups(scratch_store))
    assert "no raffle is set up yet" in caught.value.errors["raffle"] and "raffle-setup" in caught.value.errors["raffle"]
    setup(scratch_store, load_settings(home=tmp_path), "promo_weekly", scenario="promo_chain", steps=(1, 2),
          timezone="Europe/Moscow", user="analyst")
    lookups = Lookups(scratch_store)
    assert parameters[0].kind.options({}, lookups) == [("promo_weekly", "promo_weekly")]
    assert resolve(parameters, {}, lookups)["raffle"] == "promo_weekly"
    for value, message in [("promo_weekly'; DROP TABLE raffle_setups; --", "there is no raffle"),
                           ("other_raffle", "there is no raffle 'other_raffle' in the list"),
                           (TOO_LONG, "too long"), (["promo_weekly"], "a raffle from the list")]:
        with pytest.raises(FormInvalid) as caught:
            resolve(parameters, {"raffle": value}, Lookups(scratch_store))
        assert list(caught.value.errors) == ["raffle"] and message in caught.value.errors["raffle"]


@pytest.mark.parametrize(("pasted", "cohort"), [
    ("abc123", "abc123"),
    ("  https://app.amplitude.com/analytics/demo/cohort/abc123  ", "abc123"),
    ("https://app.amplitude.com/analytics/demo/cohort/abc123/", "abc123"),
    ("https://app.amplitude.com/analytics/demo/cohorts?cohortId=abc123", "abc123"),
    ("https://analytics.eu.amplitude.com/acme/cohort/x9_Y-z?source=share", "x9_Y-z"),
    ("app.amplitude.com/analytics/demo/cohort/abc123", "abc123"),
])
def test_a_pasted_amplitude_cohort_link_gives_its_id(pasted: str, cohort: str) -> None:
    for notebook in AUDIENCES:
        assert resolve(declaration(notebook), {"cohort_id": pasted})["cohort_id"] == cohort


@pytest.mark.parametrize(("pasted", "message"), [
    ("https://evil.example.com/cohort/abc123", "not to Amplitude"),
    ("https://app.amplitude.com.evil.example/cohort/abc123", "not to Amplitude"),
    ("https://app.amplitude.com/analytics/demo/chart/abc123", "not to a cohort"),
    ("https://app.amplitude.com/analytics/demo/cohort/abc'%20OR%201=1", "letters, digits"),
    ("https://app.amplitude.com/analytics/demo/cohorts?cohortId=1';DROP TABLE users", "letters, digits"),
    ("1'; DROP TABLE users; --", "letters, digits"),
    (TOO_LONG, "at most 64 characters"),
    ("https://app.amplitude.com/analytics/demo/cohort/" + "a" * 5_000, "at most 64 characters"),
    ("", "is required"),
])
def test_a_cohort_that_is_not_one_is_refused_beside_its_field(pasted: str, message: str) -> None:
    with pytest.raises(FormInvalid) as caught:
        resolve(declaration(AUDIENCES[0]), {"cohort_id": pasted})
    assert list(caught.value.errors) == ["cohort_id"] and message in caught.value.errors["cohort_id"]


def test_the_export_builder_picks_a_partner_by_name_or_all(embedded: Database) -> None:
    lookups = Lookups(embedded)
    parameters = declaration(BUILDER)
    partner = next(p for p in parameters if p.name == "partner_id")
    options = partner.kind.options({}, lookups)
    assert options[0] == ("All partners", 0) and len(options) == embedded.scalar("SELECT count() FROM partners") + 1
    assert resolve(parameters, {}, lookups)["partner_id"] == 0
    for value, message in [("3; DROP TABLE cards", "whole number"), (TOO_LONG, "whole number"),
                           ("99999", "there is no partner 99999 in the list")]:
        with pytest.raises(FormInvalid) as caught:
            resolve(parameters, {"partner_id": value}, lookups)
        assert list(caught.value.errors) == ["partner_id"] and message in caught.value.errors["partner_id"]
