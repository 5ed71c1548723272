"""The form a non-analyst fills in Voilà: one field per declared parameter, Run, Cancel, results.

The form knows parameters and widgets only: its dropdowns' options and the run itself are
handed to it (see :mod:`analytics.page`), so it runs no SQL. Every callback goes through one
wrapper that logs the traceback under a run id and shows the person a short message, so no
error is swallowed inside a widget (ipywidgets#2317). The run happens in a thread, so Cancel
and the progress line stay responsive, and one form runs one query at a time, however many
clicks the browser sends.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from .config import Settings
from .context import Progress, RunCancelled
from .errors import AnalyticsError
from .params import Choice, Columns, File, FileColumn, FormInvalid, Parameter, shown
from .pipeline import RunOutcome, new_run_id, run_log
from .render import field_error_html, file_size, label_html, outcome_html, status_html
from .uploads import safe_name
from .warehouse.lookups import Option
from .web.assets import FORM_CSS

Options = Callable[[Parameter, Mapping[str, Any]], list[Option] | None]
Runner = Callable[[Mapping[str, Any], Progress, threading.Event, str], RunOutcome]  # values, progress, Cancel, run id
Keeper = Callable[[str, bytes | memoryview], Path]  # an uploaded file's name and bytes -> where it now is
CHECKBOXES_UP_TO = 30  # longer lists of several choices are a scrolling multi-select
CHECKBOXES_IN_A_CELL = 4  # more boxes than this take the panel's whole width
SEARCHABLE_FROM = 15  # a list longer than this gets a search box
CANCELLED = "Cancelled: no file was written."


class DayInput(widgets.Text):
    """A day typed as dd.mm.yyyy, the format of every other date on the page. The browser's own date input
    shows the browser's locale (mm/dd/yyyy in an English browser), which put two formats on one page."""


def day_text(value: Any) -> str:
    return f"{value:%d.%m.%Y}" if isinstance(value, dt.date) else ("" if value is None else str(value)[:1000])


class Field:
    """One parameter's label, input, help and error line; a long list gets a search box above it."""

    def __init__(self, parameter: Parameter, value: Any, options: list[Option] | None,
                 keep: Keeper | None = None) -> None:
        self.parameter = parameter
        self.options = list(options or [])  # every choice; a search narrows what the input shows
        self.error = widgets.HTML()
        self.keep = keep  # where an uploaded file's bytes go (File parameters)
        self.uploaded: Path | None = None  # the file a File parameter's upload saved
        self.chosen = widgets.HTML()  # the uploaded file's name and size
        self.chosen.add_class("file-chosen")
        self.input = self._input(parameter, value, self.options)
        self.input.add_class(f"param-{parameter.name}")
        self.search = self._search(parameter)
        label, hint = label_html(parameter.label, parameter.help)
        parts = [widgets.HTML(label), *([self.search] if self.search else []), self.input,
                 *([self.chosen] if isinstance(self.input, widgets.FileUpload) else []), widgets.HTML(hint), self.error]
        self.box = widgets.VBox(parts)
        self.box.add_class("field")
        self.box.add_class(f"field-{parameter.name}")
        if isinstance(self.input, widgets.SelectMultiple) or (
                isinstance(self.input, widgets.Box) and len(self.options) > CHECKBOXES_IN_A_CELL):
            self.box.add_class("field-wide")  # a grid of boxes or a list takes the panel's whole width
        if isinstance(parameter.kind, Choice) and len(parameter.kind.args) == 1:
            self.box.layout.display = "none"  # one declared choice is no choice: the value goes, the field does not show

    def _input(self, parameter: Parameter, value: Any, options: list[Option]) -> widgets.Widget:
        widget = parameter.kind.widget
        if widget == "dropdown":
            values = [option for _, option in options]
            return widgets.Dropdown(options=options, value=value if value in values else None)
        if widget == "multiselect":
            if len(options) > CHECKBOXES_UP_TO:
                chosen = tuple(item for item in (value or []) if item in [option for _, option in options])
                return widgets.SelectMultiple(options=options, value=chosen, rows=8)
            return self._checkboxes(options, value or [])
        if widget == "date":
            return DayInput(value=day_text(value), placeholder="dd.mm.yyyy")
        if widget == "checkbox":
            return widgets.Checkbox(value=bool(value), indent=False)
        if widget == "file" and isinstance(parameter.kind, File):
            accept = ",".join(f".{extension}" for extension in parameter.kind.extensions)
            return widgets.FileUpload(accept=accept, multiple=False, description="Choose a file")
        return widgets.Text(value="" if value is None else str(value))

    def on_upload(self, change: dict) -> None:
        """Save the chosen file at once into the person's folder, say its name and size, and let the widget drop
        the bytes (a 50 MB list is kept on disk, not twice in the kernel's memory)."""
        if not change["new"]:
            return
        chosen = change["new"][0]
        self.uploaded, self.chosen.value = None, ""
        self.input.value = ()  # the bytes are in ``chosen``; the widget lets them go
        self.show_error(None)
        if self.keep is None:
            raise AnalyticsError("This page cannot take files.")
        kind, name = self.parameter.kind, str(chosen["name"])
        try:
            if isinstance(kind, File):
                kind.check_name(safe_name(name))  # refused before a byte is written
            saved = self.keep(name, chosen["content"])  # over the limit: refused, nothing written
            self.uploaded = kind.convert(saved)  # the rules a headless path meets
        except ValueError as refused:
            self.show_error(f"{shown(name, 80)} {refused}")
            return
        self.chosen.value = f"<span>{html.escape(self.uploaded.name)} · {file_size(self.uploaded)}</span>"

    def _search(self, parameter: Parameter) -> widgets.Text | None:
        """A search box over a list longer than a person scans by eye; it narrows the choices shown, while the
        form still returns the chosen values (a partner's ID, not its name)."""
        if len(self.options) <= SEARCHABLE_FROM or isinstance(self.input, widgets.Text | widgets.Checkbox):
            return None
        search = widgets.Text(placeholder=f"Search {len(self.options):,} choices…", continuous_update=True)
        search.add_class(f"search-{parameter.name}")
        search.add_class("field-search")
        search.observe(lambda change: self.narrow(change["new"]), names="value")
        return search

    def narrow(self, words: str) -> None:
        """Show the choices whose label holds every word typed (any case); what is chosen stays chosen."""
        wanted = words.casefold().split()
        matches = [(label, option) for label, option in self.options
                   if all(word in str(label).casefold() for word in wanted)]
        if isinstance(self.input, widgets.Box):
            for box in self.input.children:
                box.layout.display = "" if box.value or any(box.option == option for _, option in matches) else "none"
        elif isinstance(self.input, widgets.SelectMultiple):
            chosen = tuple(self.input.value)
            kept = [(label, option) for label, option in self.options if option in chosen or (label, option) in matches]
            self.input.options = kept
            self.input.value = chosen
        elif isinstance(self.input, widgets.Dropdown):
            chosen = self.input.value
            with self.input.hold_trait_notifications():
                self.input.options = matches
                if any(option == chosen for _, option in matches):
                    self.input.value = chosen

    def _checkboxes(self, options: Sequence[Option], chosen: Sequence[Any]) -> widgets.Box:
        boxes = [widgets.Checkbox(value=option in chosen, description=str(label), indent=False,
                                  layout=widgets.Layout(width="auto")) for label, option in options]
        for box, (_, option) in zip(boxes, options, strict=True):
            box.add_class(f"column-{option}")
            box.option = option  # type: ignore[attr-defined]
        grid = widgets.Box(boxes)
        grid.add_class("checkbox-grid")  # each box beside its own label, in columns (see FORM_CSS)
        return grid

    def set(self, value: Any) -> None:
        if isinstance(self.input, widgets.FileUpload):
            return  # a file is chosen on the page, never set from a value
        if self.search is not None and self.search.value:
            self.search.value = ""  # every choice back, so the value set is one the input shows
        if isinstance(self.input, widgets.Box):
            for box in self.input.children:
                box.value = box.option in (value or [])
        elif isinstance(self.input, widgets.SelectMultiple):
            self.input.value = tuple(value or ())
        elif isinstance(self.input, DayInput):
            self.input.value = day_text(value)
        elif isinstance(self.input, widgets.Dropdown):
            self.input.value = value if value in [option for _, option in self.input.options] else None
        elif isinstance(self.input, widgets.Checkbox):
            self.input.value = bool(value)
        else:
            self.input.value = "" if value is None else str(value)[:1000]

    def clear(self, raw: Any) -> None:
        """Show that a refused value is not in use: an empty choice, or the refused text itself to correct."""
        if isinstance(self.input, widgets.Text):
            self.input.value = str(raw)[:1000] if isinstance(raw, str) else ""
        elif isinstance(self.input, widgets.FileUpload):
            self.uploaded, self.chosen.value = None, ""
        elif not isinstance(self.input, widgets.Checkbox):
            self.set(None)

    def raw(self) -> Any:
        if isinstance(self.input, widgets.FileUpload):
            return self.uploaded or ""
        if isinstance(self.input, widgets.Box):
            return [box.option for box in self.input.children if box.value]
        if isinstance(self.input, widgets.SelectMultiple):
            return list(self.input.value)
        return self.input.value

    def show_error(self, text: str | None) -> None:
        self.error.value = field_error_html(text)


class ReportForm:
    """The whole page below the title: fields, buttons, progress, results."""

    def __init__(self, parameters: Sequence[Parameter], values: Mapping[str, Any], options: Options, run: Runner,
                 settings: Settings, *, page_url: str = "", downloads_url: str = "/exports/",
                 keep: Keeper | None = None) -> None:
        self.parameters, self.settings, self.run = list(parameters), settings, run
        self.options = options
        self.page_url, self.downloads_url = page_url, downloads_url
        self.fields = {p.name: Field(p, values.get(p.name, p.default), options(p, values), keep) for p in self.parameters}
        for field in self.fields.values():
            if isinstance(field.input, widgets.FileUpload):
                field.input.observe(self._guarded(field.on_upload), names="value")  # saved at once, errors shown
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.cancel_button = widgets.Button(description="Cancel", disabled=True, icon="stop")
        self.notice = widgets.HTML()
        self.status = widgets.HTML()
        self.results = widgets.HTML()
        self._cancel = threading.Event()
        self._busy = threading.Lock()  # one run at a time per form
        self.link_refused: str | None = None  # why Run is refused until the page is opened from a corrected link
        self.run_button.on_click(self._guarded(self._on_run))
        self.cancel_button.on_click(self._guarded(self._on_cancel))
        self._follow_tables()
        self.actions = widgets.HBox([self.run_button, self.cancel_button])  # others append theirs ("Send to Slack")
        self.actions.add_class("form-actions")
        self.widget = self._layout()

    def _layout(self) -> widgets.VBox:
        """Fields in a grid (two or three a row at 1280 px), then a bar with Run, Cancel and the status line that
        stays at the bottom of the screen while the fields run past it, then the result."""
        panel = widgets.Box([field.box for field in self.fields.values()])
        panel.add_class("form-fields")
        bar = widgets.VBox([self.actions, self.status])
        bar.add_class("form-bar")
        page = widgets.VBox([widgets.HTML(f"<style>{FORM_CSS}</style>"), self.notice, panel, bar, self.results])
        page.add_class("report-form")
        return page

    def apply(self, values: Mapping[str, Any], errors: Mapping[str, str], raw: Mapping[str, Any], *,
              source: str = "the link's value") -> None:
        """Put a shared link's values into the fields; refused ones are left empty with the reason beside them."""
        for name, value in values.items():
            if name in self.fields and name not in errors:
                self.fields[name].set(value)
        unknown = {name: text for name, text in errors.items() if name not in self.fields}
        for name, text in errors.items():
            if name in self.fields:
                self.fields[name].clear(raw.get(name))
                self.fields[name].show_error(f"{source} was not accepted: {text}")
        if unknown:
            listed = "; ".join(f"'{name}' {text}" for name, text in unknown.items())
            names = ", ".join(f"'{name}'" for name in unknown)
            self.link_refused = (f"The link to this page names {names}, which this report does not take: {listed}. "
                                 f"Nothing runs from this link. Open the report without {names} in its address"
                                 f"{f' ({self.page_url})' if self.page_url else ''}, then fill in the form.")
            self.notice.value = status_html(self.link_refused, error=True, kind="link-notice")

    def _follow_tables(self) -> None:
        """A column picker tied to a table field (Columns[table]) is rebuilt when the table changes; a file's column
        (FileColumn[source, role]) offers the uploaded file's columns, the one its header suggests chosen."""
        for field in self.fields.values():
            kind = field.parameter.kind
            if isinstance(kind, FileColumn) and kind.file_field in self.fields:
                uploader = self.fields[kind.file_field]

                def offer(change: dict, field: Field = field, kind: FileColumn = kind, uploader: Field = uploader) -> None:
                    values = {kind.file_field: uploader.uploaded} if uploader.uploaded else {}
                    field.options = self.options(field.parameter, values) or [("Guess from the header", "")]
                    field.input.options = field.options
                    field.input.value = kind.suggested(kind.header(values)) if values else ""
                uploader.chosen.observe(self._guarded(offer), names="value")  # set once the upload is saved
                continue
            if isinstance(kind, Columns) and kind.follows and kind.follows in self.fields:
                source = self.fields[kind.follows]

                def rebuild(change: dict, field: Field = field, source: Field = source) -> None:
                    field.options = self.options(field.parameter, {source.parameter.name: change["new"]}) or []
                    field.input.children = field._checkboxes(field.options, []).children
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
        if not self._busy.acquire(blocking=False):
            return  # a run is going on; extra clicks (or messages) start nothing
        if self.link_refused:
            self._busy.release()
            self._show_status(self.link_refused, error=True)
            return
        try:
            for field in self.fields.values():
                field.show_error(None)
            raw = {name: field.raw() for name, field in self.fields.items()}
            self._cancel.clear()
            self.run_button.disabled, self.cancel_button.disabled = True, False
            self._show_status("Running the query…")
            self.results.value = ""
            threading.Thread(target=self._run, args=(raw,), daemon=True).start()
        except BaseException:
            self._busy.release()
            raise

    def _run(self, raw: dict[str, Any]) -> None:
        run_id = new_run_id()
        try:
            outcome = self.run(raw, self._progress, self._cancel, run_id)
            late = " Cancel came after the files were written; they are below." if self._cancel.is_set() else ""
            self._show_status(outcome.query.title + late)  # before the links: a page with links is a finished page
            self.results.value = outcome_html(outcome, downloads_url=self.downloads_url, share_url=self.page_url,
                                              title=False)  # the status line above says it
            self._show_used(raw, outcome.query.effective)
        except RunCancelled as cancelled:
            self.results.value = ""  # the rows shown before the files were cut short: nothing of this run stays
            self._show_status(str(cancelled) if cancelled.saved else CANCELLED)  # what was saved, when something was
        except FormInvalid as invalid:
            for name, text in invalid.errors.items():
                if name in self.fields:
                    self.fields[name].show_error(text)
            self._show_status("Please correct the fields marked in red; nothing was run.", error=True)
        except AnalyticsError as error:
            self._show_status(str(error), error=True)
        except Exception:  # noqa: BLE001 - the traceback is logged with the run id
            run_log(self.settings).exception("run %s failed", run_id)
            self._show_status(f"Something went wrong (run {run_id}); the analysts can find the details in the log.",
                              error=True)
        finally:
            self.run_button.disabled, self.cancel_button.disabled = False, True
            self._busy.release()

    def show_first_look(self, outcome: RunOutcome) -> None:
        """The result as soon as its rows are read; the download links follow when the files are written."""
        self.results.value = outcome_html(outcome, share_url=self.page_url, title=False)
        self._progress("Writing the files…")

    def _on_cancel(self, _: Any) -> None:
        """Ask the run to stop at its next chunk; the page says so at once, and the outcome when it has stopped."""
        self._cancel.set()
        self.cancel_button.disabled = True
        self._show_status("Cancelling…")

    def _progress(self, update: int | str) -> None:
        """Rows read so far, or the words of a long step ("Writing the files: 400,000 of 1,000,000 rows (XLSX)…").

        After Cancel the line keeps saying "Cancelling…" until the run has stopped.
        """
        if not self._cancel.is_set():
            self._show_status(update if isinstance(update, str) else f"Rows read: {update:,}…")

    def _show_used(self, raw: Mapping[str, Any], used: Mapping[str, Any]) -> None:
        """A text field left empty shows what the report chose (a suggested sub_id), to keep or edit before the next run."""
        for name, value in used.items():
            field = self.fields.get(name)
            if field is not None and isinstance(field.input, widgets.Text) and not raw.get(name):
                field.set(value)

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status.value = status_html(text, error=error)
