"""A run's outcome as HTML, text and a machine-readable record: one place, every piece of data escaped.

The form and the headless output show the same HTML; ``analytics run`` and (next) Slack use
the text; the record is what the notebook runner reads back from the executed notebook. A
partner name or a push title holding ``<script>`` is text everywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from .exports.spool import PREVIEW_ROWS
from .pipeline import RunOutcome
from .results import Chart, Notice

RUN_RECORD_MIME = "application/vnd.analytics.run+json"
ERROR_STYLE = "color:#b00020;font-size:90%"
OK_STYLE = "color:#1b5e20"


def outcome_html(outcome: RunOutcome, *, downloads_url: str = "", share_url: str = "") -> str:
    """Rows, facts, download links (when served), a link to the filled form, and the preview table."""
    shown = outcome.labelled_preview.head(PREVIEW_ROWS)
    more = f" The first {len(shown)} are shown below." if outcome.rows > len(shown) else ""
    facts = "".join(f"<p class='fact'>{html.escape(fact)}</p>" for fact in outcome.query.facts)
    files = _files_html(outcome, downloads_url)
    share = ""
    if share_url:
        query = urlencode({name: _url_value(value) for name, value in outcome.values.items() if value not in (None, "")},
                          doseq=True)
        share = f"<p><a class='share' href='{html.escape(share_url + '?' + query)}'>Link to this form</a></p>"
    preview = plain_preview(shown).to_html(index=False, na_rep="", classes="preview", border=0, escape=True)
    notices = "".join(notice_html(notice) for notice in outcome.query.notices)
    charts = "".join(chart_html(chart) for chart in outcome.query.charts)
    return (f"<div class='run-result'>{notices}<p class='title'>{html.escape(outcome.query.title)}</p>"
            f"<p><b class='row-count'>{outcome.rows:,}</b> rows.{html.escape(more)}</p>"
            f"{facts}{funnel_html(outcome.query.funnel)}{files}{share}{preview}{charts}</div>")


def plain_preview(frame: pd.DataFrame) -> pd.DataFrame:
    """The preview in the page's words: days as 01.08.2026, times as 01.08.2026 13:08:05, yes/no for switches
    (never ``True`` or ISO dates beside the form's dd.mm.yyyy)."""
    shown = frame.copy()
    for name in shown.columns:
        values = shown[name]
        if pd.api.types.is_datetime64_any_dtype(values):
            shown[name] = values.dt.strftime("%d.%m.%Y %H:%M:%S").where(values.notna(), "")
        elif pd.api.types.is_bool_dtype(values):
            shown[name] = values.map({True: "yes", False: "no"})
        elif values.dtype == object:
            shown[name] = values.map(_plain_value)
    return shown


def _plain_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return f"{value:%d.%m.%Y %H:%M:%S}"
    if isinstance(value, dt.date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


NOTICE_COLOURS = {"red": ("#fdecea", "#b00020"), "yellow": ("#fff8e1", "#8a6d00"), "ok": ("#e8f5e9", "#1b5e20"),
                  "info": ("#eef3f8", "#33475b")}


def notice_html(notice: Notice) -> str:
    """A gate's verdict as a coloured box, first on the page."""
    background, colour = NOTICE_COLOURS.get(notice.level, NOTICE_COLOURS["info"])
    return (f"<p class='notice notice-{html.escape(notice.level)}' style='background:{background};color:{colour};"
            f"padding:6px 10px;border-left:4px solid {colour}'>{html.escape(notice.text)}</p>")


def chart_html(chart: Chart) -> str:
    """A chart as an inline PNG: it travels with the page and the executed notebook, no file to serve."""
    data = base64.b64encode(chart.png).decode("ascii")
    title = html.escape(chart.title)
    return (f"<figure class='chart'><img src='data:image/png;base64,{data}' alt='{title}' style='max-width:100%'>"
            f"<figcaption>{title}</figcaption></figure>")


def _files_html(outcome: RunOutcome, downloads_url: str) -> str:
    """One line of download links per result ("Target group: XLSX, CSV"), in the order they were written."""
    groups: dict[str, list[str]] = {}
    for result in outcome.files:
        groups.setdefault(outcome.file_labels.get(result.path.name, ""), []).append(_file_html(result, downloads_url))
    return "".join(f"<p class='files'>{'<b>' + html.escape(label) + ':</b> ' if label else ''}{' '.join(links)}</p>"
                   for label, links in groups.items())


def funnel_html(steps: tuple[tuple[str, int, int], ...]) -> str:
    """Steps as horizontal bars (people still in after each), with how many each step left out."""
    if not steps:
        return ""
    widest = max(max(step[1] for step in steps), 1)
    rows = "".join(
        f"<tr class='funnel-step'><td>{html.escape(label)}</td><td style='text-align:right'>{remaining:,}</td>"
        f"<td style='width:40%'><div style='background:#1565c0;height:12px;width:{100 * remaining / widest:.1f}%'>"
        f"</div></td><td style='color:#777'>{f'−{left_out:,}' if left_out else ''}</td></tr>"
        for label, remaining, left_out in steps)
    return ("<table class='funnel'><tr><th>Step</th><th>People</th><th></th><th>Left out here</th></tr>"
            f"{rows}</table>")


def _file_html(result: Any, downloads_url: str) -> str:
    name, note = html.escape(result.path.name), html.escape(result.note)
    if not downloads_url:
        return f"<span class='file file-{result.format}'>{name}</span> <small>({note})</small>"
    return (f"<a class='download download-{result.format}' href='{html.escape(downloads_url + result.path.name)}' "
            f"download='{name}'>Download {result.format.upper()}</a> <small>({note})</small>")


def outcome_text(outcome: RunOutcome) -> str:
    """Plain text for a terminal or a chat message: the summary, the facts, one file per line."""
    lines = [notice.text for notice in outcome.query.notices] + [outcome.summary, *outcome.query.facts]
    lines += [f"  {label}: {remaining:,} (left out {left_out:,})" for label, remaining, left_out in outcome.query.funnel]
    lines += [f"{result.path} ({result.note})" for result in outcome.files]
    return "\n".join(lines)


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """What the runner reads back from the executed notebook: the run id, the rows, the files."""
    headline = outcome.query.headline
    return {"run_id": outcome.run_id, "report": outcome.query.name, "rows": outcome.rows,
            "files": [str(result.path) for result in outcome.files],
            "headline": headline.as_json() if headline is not None else None}


def status_html(text: str, *, error: bool = False, kind: str = "status") -> str:
    style = ERROR_STYLE if error else OK_STYLE
    return f"<p class='{kind}{' error' if error else ''}' style='{style}'>{html.escape(text)}</p>"


def field_error_html(text: str | None) -> str:
    return f"<span class='field-error' style='{ERROR_STYLE}'>{html.escape(text)}</span>" if text else ""


def label_html(label: str, help_text: str) -> tuple[str, str]:
    return (f"<b>{html.escape(label)}</b>",
            f"<span style='color:#555;font-size:90%'>{html.escape(help_text)}</span>")


def _url_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
