"""What a report notebook calls: one line that is the form in Voilà and the run under papermill.

    from analytics.page import report_page
    from analytics.reports import plastic_cards
    report_page(plastic_cards, globals())

The parameters come from the notebook's own ``parameters`` cell (see :mod:`analytics.params`);
``globals()`` carries their current values, including any papermill injected. Both modes call
the one run pipeline (:func:`analytics.pipeline.run_report`) and the one renderer.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .access.identity import current_client, current_user, user_folder
from .config import Settings, load_settings
from .context import Progress, RunContext, RunDescription
from .db import Database, connect
from .delivery.links import run_page_links
from .delivery.slack_button import slack_button
from .errors import ConfigError
from .memory import give_back
from .params import File, FormInvalid, Parameter, declaration, declaration_from_namespace, resolve, values_from_query
from .pipeline import FirstLook, RunOutcome, new_run_id, run_report
from .render import RUN_RECORD_MIME, outcome_html, outcome_record, outcome_text
from .uploads import save_upload
from .warehouse.lookups import Lookups
from .web.kernel_link import wait_for_visitor

NOTEBOOK_ENV = "ANALYTICS_NOTEBOOK"


def in_voila() -> bool:
    return (os.environ.get("VOILA_PREHEAT") == "True" or "VOILA_REQUEST_URL" in os.environ
            or os.environ.get("SCRIPT_NAME", "").endswith(".ipynb"))


def current_notebook() -> Path:
    """The running notebook's file: set by ``analytics run``, derived from Voilà's request, or JupyterLab's session."""
    if os.environ.get(NOTEBOOK_ENV):
        return Path(os.environ[NOTEBOOK_ENV])
    script = unquote(os.environ.get("SCRIPT_NAME", ""))
    if script.endswith(".ipynb"):
        return Path.cwd() / Path(script).name
    session = os.environ.get("JPY_SESSION_NAME", "")
    if session.endswith(".ipynb") and Path(session).is_file():
        return Path(session)
    raise ConfigError("Cannot tell which notebook is running: run it with `analytics run NOTEBOOK` or open it in the app.")


def report_page(report: Callable[..., Any], namespace: Mapping[str, Any]) -> None:
    """Show the report's form (Voilà), or validate, run and export at once (headless)."""
    if in_voila():
        show_form(report, namespace)
    else:
        run_headless(report, namespace)


def _parameters(namespace: Mapping[str, Any]) -> list[Parameter]:
    try:
        return declaration(current_notebook())
    except ConfigError:
        return declaration_from_namespace(namespace)


def run_headless(report: Callable[..., Any], namespace: Mapping[str, Any]) -> RunOutcome:
    """Papermill, nbval or a plain kernel: run with the cell's values, show the outcome and its record."""
    from IPython.display import HTML, display  # noqa: PLC0415 - only inside a kernel

    settings = load_settings()
    parameters = _parameters(namespace)
    given = {p.name: namespace[p.name] for p in parameters if p.name in namespace}
    with connect(settings=settings, read_only=True) as db:
        ctx = headless_context(settings, db)
        outcome = run_report(report, parameters, given, ctx)
    links = run_page_links(settings, ctx.run_id, current_notebook()) if ctx.job is not None else {}  # the run's page
    display(HTML(outcome_html(outcome, **links)))
    display({RUN_RECORD_MIME: outcome_record(outcome), "text/plain": outcome_text(outcome)}, raw=True)
    return outcome


def headless_context(settings: Settings, reader: Database) -> RunContext:
    """The run's context in a kernel papermill drives: as the runner described it (``analytics run``, the
    scheduler's job), else a run of this kernel for the operating-system user (nbval, a plain kernel)."""
    described = RunDescription.from_env()
    if described is None:
        return RunContext(settings, reader, current_user(), new_run_id())
    return RunContext(settings, reader, described.user, described.run_id, client=described.client, job=described.job)


def headless_only(report: Callable[..., Any]) -> tuple[str, ...]:
    """The report's switches that only a headless run may turn on (monitoring's ``send_alerts``)."""
    return tuple(getattr(report, "headless_only", ()))


def show_form(report: Callable[..., Any], namespace: Mapping[str, Any]) -> None:
    """The form, built before a visitor arrives (preheated kernel), then filled from the visitor's link.

    A switch only headless runs may turn on has no field; a link naming it is refused like any name the
    form does not take, and every run of the form has it off.
    """
    from IPython.display import display  # noqa: PLC0415 - only inside a kernel

    from .forms import ReportForm  # noqa: PLC0415 - widgets only in the app

    settings = load_settings()
    switches = headless_only(report)
    declared = declaration(current_notebook())
    parameters = [parameter for parameter in declared if parameter.name not in switches]  # the form's fields
    db = connect(settings=settings, read_only=True)
    lookups = Lookups(db)
    fillable = [parameter for parameter in parameters if not isinstance(parameter.kind, File)]  # a file is chosen here
    given = {p.name: namespace[p.name] for p in fillable if p.name in namespace}
    defaults, refused = prefilled(fillable, {}, given, lookups)  # a default the data no longer has is shown, not hidden
    refused = {name: text for name, text in refused.items() if given.get(name) not in ("", None)}  # to be typed in
    base = os.environ.get("VOILA_BASE_URL", "/")
    runner = _form_runner(report, declared, db, settings, lambda outcome: form.show_first_look(outcome), switches)
    sender = slack_button(settings, "")  # "Send to Slack", when Slack is configured
    form = ReportForm(parameters, defaults, lambda parameter, values: parameter.kind.options(values, lookups),
                      sender.watch(runner) if sender else runner, settings,
                      keep=lambda name, content: save_upload(settings, current_user(), name, content))  # the visitor's
    if sender:
        add_action(form, sender.widget)
    if refused:
        form.apply(defaults, refused, given, source="the report's default")
    display(form.widget)
    wait_for_visitor()  # a preheated kernel did the slow part before anyone asked; it proves it is the app's own
    form.downloads_url = f"{base.rstrip('/')}/exports/{user_folder(current_user())}/"  # the visitor is known now
    form.page_url = os.environ.get("SCRIPT_NAME") or urlsplit(os.environ.get("VOILA_REQUEST_URL", "")).path  # this visit's
    if sender:
        sender.user, sender.page_url = current_user(), form.page_url
    link = values_from_query(os.environ.get("QUERY_STRING", ""))
    if link:
        values, errors = prefilled(fillable, defaults, link, lookups)
        errors.update({name: "is set only by a scheduled run, never by a link (the app never sends alerts)"
                       for name in link if name in switches})
        errors.update({parameter.name: "a file is chosen on this page, never named by a link"
                       for parameter in parameters if isinstance(parameter.kind, File) and parameter.name in link})
        form.apply(values, errors, link)


def add_action(form: Any, widget: Any) -> None:
    """Put ``widget`` beside Run and Cancel: in ``form.actions`` (the forms' layout), else in the row holding Run."""
    row = getattr(form, "actions", None) or next(
        (child for child in form.widget.children if form.run_button in getattr(child, "children", ())), None)
    if row is None:
        form.widget.children = (*form.widget.children, widget)
    else:
        row.children = (*row.children, widget)


def _form_runner(report: Callable[..., Any], parameters: list[Parameter], db: Database, settings: Settings,
                 first_look: FirstLook, switches: tuple[str, ...] = ()
                 ) -> Callable[[Mapping[str, Any], Progress, threading.Event, str], RunOutcome]:
    """The form's Run: the one pipeline, with the form's progress line, Cancel, and the result before its files;
    the headless-only switches always off; afterwards the memory the run freed goes back to the system."""
    def run(raw: Mapping[str, Any], progress: Progress, cancelled: threading.Event, run_id: str) -> RunOutcome:
        given = {**raw, **dict.fromkeys(switches, False)}
        ctx = RunContext(settings, db, current_user(), run_id, client=current_client(), in_app=True,
                         status=progress, progress=progress, cancelled=cancelled)  # one status line: rows or words
        try:
            return run_report(report, parameters, given, ctx, first_look=first_look)
        finally:
            give_back(db)  # the page stays open: its kernel waits for the next Run at its resting size
    return run


def prefilled(parameters: list[Parameter], defaults: Mapping[str, Any], link: Mapping[str, Any],
              lookups: Callable[[str], list]) -> tuple[dict[str, Any], dict[str, str]]:
    """The link's values for the form, and a reason for each one refused (never replaced by another value)."""
    try:
        return resolve(parameters, {**defaults, **link}, lookups), {}
    except FormInvalid as invalid:
        errors = invalid.errors
    known = {parameter.name for parameter in parameters}
    kept = {name: value for name, value in link.items() if name in known and name not in errors}
    try:
        values = resolve(parameters, {**defaults, **kept}, lookups)
    except FormInvalid:  # a kept value clashes with a default (an end before the default start): show the defaults
        values = dict(defaults)
    return values, errors
