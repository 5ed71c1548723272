"""The form without a browser: it runs no SQL, runs one query at a time, and never puts another value in place
of a refused one; every parameter kind takes hostile link values without a traceback."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from analytics import Database, load_settings
from analytics.forms import ReportForm
from analytics.page import prefilled
from analytics.params import FormInvalid, declaration
from analytics.pipeline import run_report
from analytics.reports import export_builder, plastic_cards
from analytics.testing.runs import run_context
from analytics.warehouse.lookups import Lookups

from .conftest import REPO
from .test_sql_binding import HOSTILE

PLASTIC = REPO / "notebooks" / "account_managers" / "plastic_cards.ipynb"
BUILDER = REPO / "notebooks" / "analysts" / "export_builder.ipynb"
PARTNERS = [("(the partner with the most cards)", 0), ("Лента", 3), ("<script>alert(1)</script>", 7)]


def options(parameter, values):  # type: ignore[no-untyped-def]
    return parameter.kind.options(values, lambda source: PARTNERS)


def test_eight_clicks_start_one_run(tmp_path: Path) -> None:
    parameters = declaration(PLASTIC)
    started, release = [], threading.Event()

    def slow_run(raw, progress, cancelled, run_id):  # type: ignore[no-untyped-def]
        started.append(raw)
        release.wait(10)
        raise FormInvalid({"partner_id": "stop here"})

    form = ReportForm(parameters, {"partner_id": 3, "csv_delimiter": "comma"}, options, slow_run,
                      load_settings(home=tmp_path))
    clicks = [threading.Thread(target=form.run_button.click) for _ in range(8)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    time.sleep(0.3)
    release.set()
    deadline = time.monotonic() + 10
    while form.run_button.disabled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(started) == 1
    assert "stop here" in form.fields["partner_id"].error.value


def test_a_refused_link_value_leaves_the_field_empty_with_the_reason(tmp_path: Path) -> None:
    parameters = declaration(PLASTIC)
    defaults = {"partner_id": 0, "start": None, "end": None, "csv_delimiter": "semicolon"}
    link = {"partner_id": "99999", "csv_delimiter": "tab", "start": "2026-09-01", "partner": "3"}
    values, errors = prefilled(parameters, defaults, link, lambda source: PARTNERS)
    assert set(errors) == {"partner_id", "csv_delimiter", "partner"}
    form = ReportForm(parameters, defaults, options, lambda *a: None, load_settings(home=tmp_path))  # type: ignore[arg-type,return-value]
    form.apply(values, errors, link)
    assert form.fields["partner_id"].input.value is None  # not the default partner, not any partner
    assert form.fields["csv_delimiter"].input.value is None
    assert form.fields["start"].input.value == "01.09.2026"  # the link's day, written as the page writes days
    assert "there is no partner 99999 in the list" in form.fields["partner_id"].error.value
    assert "&#x27;partner&#x27; is not a parameter of this report" in form.notice.value


def test_column_pickers_show_the_catalogs_plain_labels(tmp_path: Path) -> None:
    form = ReportForm(declaration(BUILDER), {"table": "cards", "columns": ["card_number"]}, options,
                      lambda *a: None, load_settings(home=tmp_path))  # type: ignore[arg-type,return-value]
    labels = [box.description for box in form.fields["columns"].input.children]
    assert "Card number" in labels and "card_number" not in labels


@pytest.mark.parametrize("value", HOSTILE + ["../../etc/passwd", "1e309", "-1", "0x10", "2105-12-31", "1969-12-31"])
@pytest.mark.parametrize("notebook", [PLASTIC, BUILDER], ids=["plastic", "builder"])
def test_hostile_link_values_in_every_field_are_refused_or_kept_as_text(notebook: Path, value: str, embedded: Database,
                                                                        tmp_path: Path) -> None:
    parameters = declaration(notebook)
    lookups = Lookups(embedded)
    for parameter in parameters:
        values, errors = prefilled(parameters, {}, {parameter.name: value}, lookups)
        form = ReportForm(parameters, values, lambda p, v: p.kind.options(v, lookups), lambda *a: None,  # type: ignore[arg-type,return-value]
                          load_settings(home=tmp_path))
        form.apply(values, errors, {parameter.name: value})
        if parameter.name in errors:
            assert "<" not in form.fields[parameter.name].error.value.split(">", 1)[1].rsplit("<", 1)[0]
        else:
            assert values[parameter.name] in (value, value.strip()) or str(values[parameter.name]) == value


@pytest.mark.parametrize("given", [{"start": "1969-12-31"}, {"end": "2106-01-01", "start": "2105-12-01"},
                                   {"partner_id": 99999}, {"csv_delimiter": "tab"}, {"partner": 3}])
def test_the_pipeline_refuses_before_querying(given: dict, embedded: Database, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "iter_chunks", lambda *a, **k: pytest.fail("a query ran"))
    with pytest.raises(FormInvalid) as refused:
        run_report(plastic_cards, declaration(PLASTIC), given, run_context(embedded, load_settings(home=tmp_path)))
    assert set(refused.value.errors) == {next(iter(given)) if "end" not in given else "end"}
    assert not [p for p in (tmp_path / "reports" / "exports").rglob("*") if p.is_file()]


def test_a_report_refusal_is_shown_by_field(embedded: Database, tmp_path: Path) -> None:
    with pytest.raises(FormInvalid) as refused:
        run_report(export_builder, declaration(BUILDER), {"table": "users", "columns": ["user_id"], "partner_id": 3},
                   run_context(embedded, load_settings(home=tmp_path)))
    assert refused.value.errors == {"partner_id": "table users has no partner; choose All partners"}


MANY_PARTNERS = [("(the partner with the most cards)", 0)] + [(f"Партнёр {n}", n) for n in range(1, 31)]


def test_the_form_is_a_panel_of_fields_then_a_bar_with_run_cancel_and_room_for_more(tmp_path: Path) -> None:
    form = ReportForm(declaration(PLASTIC), {"partner_id": 3}, options, lambda *a: None,  # type: ignore[arg-type,return-value]
                      load_settings(home=tmp_path))
    panel, bar = (child for child in form.widget.children if child._dom_classes
                  and child._dom_classes[0] in ("form-fields", "form-bar"))
    assert [box for box in panel.children] == [field.box for field in form.fields.values()]
    assert form.actions in bar.children and list(form.actions.children) == [form.run_button, form.cancel_button]
    assert "report-form" in form.widget._dom_classes and "position: sticky" in form.widget.children[0].value


def test_a_long_list_is_searchable_and_the_form_still_returns_the_value(tmp_path: Path) -> None:
    form = ReportForm(declaration(PLASTIC), {"partner_id": 3}, lambda p, v: MANY_PARTNERS if p.name == "partner_id"
                      else options(p, v), lambda *a: None, load_settings(home=tmp_path))  # type: ignore[arg-type,return-value]
    field = form.fields["partner_id"]
    assert field.search is not None and "search-partner_id" in field.search._dom_classes
    assert form.fields["csv_delimiter"].search is None  # three choices: nothing to search
    field.search.value = "партнёр 2"
    assert [value for _, value in field.input.options] == [2, 12, *range(20, 30)]  # any part of the name
    assert field.raw() == 2  # the first match is chosen, and the form returns the partner's ID
    field.search.value = "tнет такого"
    assert field.input.options == () and field.raw() is None
    field.set(3)  # a shared link's value: every choice back
    assert field.search.value == "" and len(field.input.options) == 31 and field.raw() == 3


def test_checkbox_grids_narrow_but_keep_what_is_ticked(tmp_path: Path) -> None:
    columns = [(f"Column {n}", f"c{n}") for n in range(20)]
    form = ReportForm(declaration(BUILDER), {"table": "cards", "columns": ["c1"]},
                      lambda p, v: columns if p.name == "columns" else options(p, v), lambda *a: None,  # type: ignore[arg-type,return-value]
                      load_settings(home=tmp_path))
    field = form.fields["columns"]
    assert "checkbox-grid" in field.input._dom_classes and "field-wide" in field.box._dom_classes
    field.search.value = "column 1"
    shown = [box.option for box in field.input.children if box.layout.display != "none"]
    assert shown == ["c1", *(f"c{n}" for n in range(10, 20))]
    field.search.value = "column 5"
    assert [box.option for box in field.input.children if box.layout.display != "none"] == ["c1", "c5", "c15"]
    assert field.raw() == ["c1"]


def test_a_long_multiselect_narrows_to_matches_and_keeps_the_chosen(tmp_path: Path) -> None:
    columns = [(f"Column {n}", f"c{n}") for n in range(40)]  # more than a grid of boxes holds: a list
    form = ReportForm(declaration(BUILDER), {"table": "cards", "columns": ["c3"]},
                      lambda p, v: columns if p.name == "columns" else options(p, v), lambda *a: None,  # type: ignore[arg-type,return-value]
                      load_settings(home=tmp_path))
    field = form.fields["columns"]
    assert "field-wide" in field.box._dom_classes and field.raw() == ["c3"]
    field.search.value = "column 2"
    assert [value for _, value in field.input.options] == ["c2", "c3", "c12", *(f"c{n}" for n in range(20, 30)), "c32"]
    field.input.value = ("c3", "c25")
    field.search.value = ""
    assert len(field.input.options) == 40 and field.raw() == ["c3", "c25"]


def test_a_declared_choice_of_one_is_no_field_but_its_value_still_goes(tmp_path: Path) -> None:
    events = declaration(REPO / "notebooks" / "monitoring" / "events.ipynb")
    form = ReportForm([p for p in events if p.name != "send_alerts"], {"checks": "events"}, options,
                      lambda *a: None, load_settings(home=tmp_path))  # type: ignore[arg-type,return-value]
    assert form.fields["checks"].box.layout.display == "none" and form.fields["checks"].raw() == "events"
    assert form.fields["sensitivity"].box.layout.display != "none"  # three choices: a field
