"""The form a non-analyst fills in Voilà: one field per declared parameter, Run, Cancel, results.

Every callback goes through one wrapper that logs the traceback under a run id and shows
the person a short message, so no error is swallowed inside a widget (ipywidgets#2317).
The query runs in a thread, so Cancel and the progress line stay responsive.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import ipywidgets as widgets

from .config import Settings
from .db import Database
from .errors import AnalyticsError, ParameterError
from .params import Columns, FormInvalid, Parameter, Partner, resolve
from .runtime import RunOutcome, execute, new_run_id, run_log, split_values

Report = Callable[..., Any]
_ERROR_STYLE = "color:#b00020;font-size:90%"


class Field:
    """One parameter's label, input, help and error line."""

    def __init__(self, parameter: Parameter, value: Any, db: Database, values: Mapping[str, Any]) -> None:
        self.parameter = parameter
        self.error = widgets.HTML()
        self.input = self._input(parameter, value, db, values)
        self.input.add_class(f"param-{parameter.name}")
        label = widgets.HTML(f"<b>{html.escape(parameter.label)}</b>")
        hint = widgets.HTML(f"<span style='color:#555;font-size:90%'>{html.escape(parameter.help)}</span>")
        self.box = widgets.VBox([label, self.input, hint, self.error], layout=widgets.Layout(margin="0 0 10px 0"))

    def _input(self, parameter: Parameter, value: Any, db: Database, values: Mapping[str, Any]) -> widgets.Widget:
        kind = parameter.kind
        if isinstance(kind, Partner):
            partners = db.query_arrow("SELECT partner_id, name FROM partners ORDER BY name").to_pylist()
            options = [("(the partner with the most cards)", 0)] + [(row["name"], row["partner_id"]) for row in partners]
            return widgets.Dropdown(options=options, value=value if value in dict(options).values() else 0)
        if kind.widget == "dropdown":
            options = kind.options(values) or []
            return widgets.Dropdown(options=options, value=value if value in [o[1] for o in options] else None)
        if kind.widget == "multiselect":
            return self._checkboxes(kind.options(values) or [], value or [])
        if kind.widget == "date":
            return widgets.DatePicker(value=value if isinstance(value, dt.date) else None)
        if kind.widget == "checkbox":
            return widgets.Checkbox(value=bool(value), indent=False)
        return widgets.Text(value="" if value is None else str(value))

    def _checkboxes(self, options: Sequence[tuple[str, Any]], chosen: Sequence[str]) -> widgets.Box:
        boxes = [widgets.Checkbox(value=option in chosen, description=label, indent=False,
                                  layout=widgets.Layout(width="auto")) for label, option in options]
        for box, (_, option) in zip(boxes, options, strict=True):
            box.add_class(f"column-{option}")
            box.option = option  # type: ignore[attr-defined]
        return widgets.HBox(boxes, layout=widgets.Layout(flex_flow="row wrap"))

    def set(self, value: Any) -> None:
        if isinstance(self.input, widgets.Box):
            for box in self.input.children:
                box.value = box.option in (value or [])
        elif isinstance(self.input, widgets.DatePicker):
            self.input.value = value if isinstance(value, dt.date) else None
        elif isinstance(self.input, (widgets.Dropdown, widgets.Checkbox)):
            self.input.value = value
        else:
            self.input.value = "" if value is None else str(value)

    def raw(self) -> Any:
        if isinstance(self.input, widgets.Box):
            return [box.option for box in self.input.children if box.value]
        value = self.input.value
        return "" if value is None and isinstance(self.input, widgets.DatePicker) else value

    def show_error(self, text: str | None) -> None:
        self.error.value = f"<span class='field-error' style='{_ERROR_STYLE}'>{html.escape(text)}</span>" if text else ""


class ReportForm:
    """The whole page below the title: fields, buttons, progress, results."""

    def __init__(self, report: Report, parameters: Sequence[Parameter], values: Mapping[str, Any], db: Database,
                 settings: Settings, *, page_url: str = "", downloads_url: str = "/exports/",
                 prefill_errors: Mapping[str, str] | None = None) -> None:
        self.report, self.parameters, self.db, self.settings = report, list(parameters), db, settings
        self.page_url, self.downloads_url = page_url, downloads_url
        self.fields = {p.name: Field(p, values.get(p.name, p.default), db, values) for p in self.parameters}
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = widgets.Button(description="Cancel", disabled=True, icon="stop")
        self.status = widgets.HTML()
        self.results = widgets.HTML()
        self._cancel = threading.Event()
        self.run_button.on_click(self._guarded(self._on_run))
        self.cancel_button.on_click(self._guarded(lambda _: self._cancel.set()))
        self._follow_tables(values)
        for name, text in (prefill_errors or {}).items():
            if name in self.fields:
                self.fields[name].show_error(text)
        self.widget = widgets.VBox([*(f.box for f in self.fields.values()),
                                    widgets.HBox([self.run_button, self.cancel_button]), self.status, self.results])

    def apply(self, values: Mapping[str, Any], errors: Mapping[str, str]) -> None:
        """Put values (from a shared link) into the fields, and say which values were refused."""
        for name, value in values.items():
            if name in self.fields:
                self.fields[name].set(value)
        for name, text in errors.items():
            if name in self.fields:
                self.fields[name].show_error(text)

    def _follow_tables(self, values: Mapping[str, Any]) -> None:
        """A column picker tied to a table field (Columns[table]) is rebuilt when the table changes."""
        for field in self.fields.values():
            kind = field.parameter.kind
            if isinstance(kind, Columns) and kind.follows:
                source = self.fields.get(kind.follows)
                if source is not None:
                    def rebuild(change: dict, field: Field = field, source: Field = source) -> None:
                        options = field.parameter.kind.options({source.parameter.name: change["new"]}) or []
                        field.input.children = field._checkboxes(options, []).children
                    source.input.observe(self._guarded(rebuild), names="value")

    def _guarded(self, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        def guarded(argument: Any) -> None:
            try:
                callback(argument)
            except AnalyticsError as error:
                self._show_status(str(error), error=True)
            except Exception:  # noqa: BLE001 - shown as a message with a run id, traceback logged
                run_id = new_run_id()
                run_log(self.settings).exception("run %s: form callback failed", run_id)
                self._show_status(f"Something went wrong (run {run_id}); the analysts can find the details in the log.",
                                  error=True)
        return guarded

    def _on_run(self, _: Any) -> None:
        for field in self.fields.values():
            field.show_error(None)
        raw = {name: field.raw() for name, field in self.fields.items()}
        try:
            values = resolve(self.parameters, raw)
        except FormInvalid as invalid:
            for name, text in invalid.errors.items():
                self.fields[name].show_error(text)
            self._show_status("Please correct the fields marked in red; nothing was run.", error=True)
            return
        self._cancel.clear()
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self._show_status("Running the query…")
        self.results.value = ""
        threading.Thread(target=self._run, args=(values,), daemon=True).start()

    def _run(self, values: dict[str, Any]) -> None:
        run_id = new_run_id()
        try:
            values, delimiter = split_values(values)
            try:
                query = self.report(self.db, **values)
            except ParameterError as refused:
                if refused.name in self.fields:
                    self.fields[refused.name].show_error(refused.allowed)
                raise
            outcome = execute(query, self.db, settings=self.settings, delimiter=delimiter, run_id=run_id,
                              cancelled=self._cancel, progress=lambda rows: self._show_status(f"Rows read: {rows:,}…"))
            self._show_outcome(outcome, values)
        except AnalyticsError as error:
            self._show_status(str(error), error=True)
        except Exception:  # noqa: BLE001 - the traceback is logged with the run id
            run_log(self.settings).exception("run %s failed", run_id)
            self._show_status(f"Something went wrong (run {run_id}); the analysts can find the details in the log.",
                              error=True)
        finally:
            self.run_button.disabled, self.cancel_button.disabled = False, True

    def _show_outcome(self, outcome: RunOutcome, values: Mapping[str, Any]) -> None:
        facts = "".join(f"<p>{html.escape(fact)}</p>" for fact in outcome.query.facts)
        links = " ".join(
            f"<a class='download download-{r.format}' href='{html.escape(self.downloads_url + r.path.name)}' "
            f"download='{html.escape(r.path.name)}'>Download {r.format.upper()}</a> <small>({html.escape(r.note)})</small>"
            for r in outcome.files)
        shown = outcome.preview.head(20)
        preview = shown.rename(columns=outcome.query.headers).to_html(index=False, na_rep="", classes="preview", border=0)
        share = ""
        if self.page_url:
            query = urlencode({k: _url_value(v) for k, v in values.items() if v not in (None, "")}, doseq=True)
            share = f"<p><a class='share' href='{html.escape(self.page_url + '?' + query)}'>Link to this form</a></p>"
        more = f" The first {len(shown)} are shown below." if outcome.rows > len(shown) else ""
        self.results.value = (f"<div class='run-result'><p><b class='row-count'>{outcome.rows:,}</b> rows.{more}</p>"
                              f"{facts}<p>{links}</p>{share}{preview}</div>")
        self._show_status(html.escape(outcome.query.title))

    def _show_status(self, text: str, *, error: bool = False) -> None:
        style = _ERROR_STYLE if error else "color:#1b5e20"
        self.status.value = f"<p class='status{' error' if error else ''}' style='{style}'>{html.escape(text)}</p>"


def _url_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value

