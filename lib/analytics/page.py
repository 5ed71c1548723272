"""What a report notebook calls: one line that is the form in Voilà and the run under papermill.

    from analytics.page import report_page
    from analytics.reports import plastic_cards
    report_page(plastic_cards, globals())

The parameters come from the notebook's own ``parameters`` cell (see :mod:`analytics.params`);
``globals()`` carries their current values, including any papermill injected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .config import load_settings
from .db import connect
from .errors import ConfigError
from .params import FormInvalid, declaration, resolve, values_from_query
from .runtime import RunOutcome, execute, manifest, split_values

NOTEBOOK_ENV = "ANALYTICS_NOTEBOOK"


def in_voila() -> bool:
    return (os.environ.get("VOILA_PREHEAT") == "True" or "VOILA_REQUEST_URL" in os.environ
            or os.environ.get("SCRIPT_NAME", "").endswith(".ipynb"))


def current_notebook() -> Path:
    """The running notebook's file: set by ``analytics run``, or derived from Voilà's request."""
    if os.environ.get(NOTEBOOK_ENV):
        return Path(os.environ[NOTEBOOK_ENV])
    script = unquote(os.environ.get("SCRIPT_NAME", ""))
    if script.endswith(".ipynb"):
        return Path.cwd() / Path(script).name
    raise ConfigError("Cannot tell which notebook is running: run it with `analytics run NOTEBOOK` or open it in the app.")


def report_page(report: Callable[..., Any], namespace: Mapping[str, Any]) -> RunOutcome | None:
    """Show the report's form (Voilà) or validate, run and export at once (headless)."""
    from IPython.display import HTML, display  # noqa: PLC0415 - only inside a kernel

    settings = load_settings()
    parameters = declaration(current_notebook())
    given = {p.name: namespace[p.name] for p in parameters if p.name in namespace}
    db = connect(settings=settings)
    if in_voila():
        from .forms import ReportForm  # noqa: PLC0415 - widgets only in the app

        base = os.environ.get("VOILA_BASE_URL", "/")
        form = ReportForm(report, parameters, resolve(parameters, given), db, settings,
                          downloads_url=base.rstrip("/") + "/exports/")
        display(form.widget)
        _wait_for_visitor()  # a preheated kernel did the slow part before anyone asked
        prefill = values_from_query(os.environ.get("QUERY_STRING", ""))
        if prefill:
            form.apply(*_prefilled(parameters, {**given, **prefill}))
        form.page_url = urlsplit(os.environ.get("VOILA_REQUEST_URL", "")).path
        return None
    values, delimiter = split_values(resolve(parameters, given))
    outcome = execute(report(db, **values), db, settings=settings, delimiter=delimiter)
    display(HTML(f"<p><b>{outcome.summary}</b></p>" + "".join(f"<p>{fact}</p>" for fact in outcome.query.facts)))
    display(outcome.preview.rename(columns=outcome.query.headers))
    for result in outcome.files:
        print(result.path, "-", result.note)
    manifest([result.path for result in outcome.files])
    return outcome


def _wait_for_visitor() -> None:
    """In a preheated kernel, block until a visitor's request arrives with its query string."""
    if os.environ.get("VOILA_PREHEAT") == "True":
        from voila.utils import wait_for_request  # noqa: PLC0415

        wait_for_request()


def _prefilled(parameters: list, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Typed values for the form; values from the link that break a rule are reported, not used."""
    try:
        return resolve(parameters, given), {}
    except FormInvalid as invalid:
        fallback = {p.name: p.default for p in parameters}
        kept = {name: value for name, value in given.items() if name not in invalid.errors}
        try:
            values = resolve(parameters, {**fallback, **kept})
        except FormInvalid:
            values = resolve(parameters, fallback)
        return values, {name: f"the link's value was not accepted: {text}" for name, text in invalid.errors.items()}
