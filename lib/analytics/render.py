"""A run's outcome as HTML, text and a machine-readable record: one place, every piece of data escaped.

The form and the headless output show the same HTML; ``analytics run`` and (next) Slack use
the text; the record is what the notebook runner reads back from the executed notebook. A
partner name or a push title holding ``<script>`` is text everywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import re
from collections.abc import Collection, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from .exports import ExportResult
from .exports.spool import PREVIEW_ROWS
from .pipeline import RunOutcome
from .results import Chart, Notice, ReportQuery
from .web.assets import RESULT_CSS
from .words import counted, plural

RUN_RECORD_MIME = "application/vnd.analytics.run+json"
ERROR_STYLE = "color:#b00020;font-size:90%"
OK_STYLE = "color:#1b5e20"  # a line saying something went well (sent to Slack)
RESULT_STYLE = f"<style>{RESULT_CSS}</style>"  # travels with the result: the form, a run's page, JupyterLab
COUNTED_S = re.compile(r"\b(\d[\d,]*) (\w+)\(s\)")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
WIDE_TABLE_COLUMNS = 10  # more columns than this rarely fit 1200 px: the page says the table scrolls
FORMAT_ORDER = {"xlsx": 0, "csv": 1}
FORMAT_WORDS = {"xlsx": "Download for Excel (XLSX)", "csv": "Download CSV (for other tools)"}
CSV_HINT = ("Open the XLSX in Excel: Excel opening a CSV rounds numbers longer than 15 digits (card numbers) "
            "and drops leading zeros (barcodes). The CSV is for other tools and scripts.")
CSV_ONLY_HINT = ("Excel opening a CSV rounds numbers longer than 15 digits (card numbers) and drops leading zeros "
                 "(barcodes): in Excel, import it with Data → From Text and mark such columns as text.")


def outcome_html(outcome: RunOutcome, *, downloads_url: str = "", share_url: str = "", title: bool = True) -> str:
    """Notices, the count, facts, download buttons (when served), a link to the filled form, the charts (a person
    looks before reading rows), then the preview table.

    ``title=False`` where the page already says it (the form's status line names the result): no title twice.
    An empty result says so, with what the report knows of where its data starts, and offers no 0-row file.
    """
    query = outcome.query
    shown = outcome.preview.head(PREVIEW_ROWS)
    facts = "".join(f"<p class='fact'>{html.escape(plain_words(fact))}</p>" for fact in query.facts)
    share = ""
    if share_url:
        values = urlencode({name: _url_value(value) for name, value in outcome.values.items()
                            if value not in (None, "") and not isinstance(value, Path)},  # an uploaded file stays here
                           doseq=True)
        share = f"<p><a class='share' href='{html.escape(share_url + '?' + values)}'>Link to this form</a></p>"
    notices = "".join(notice_html(notice) for notice in query.notices)
    charts = "".join(chart_html(chart) for chart in query.charts)
    heading = f"<p class='title'>{html.escape(plain_words(query.title))}</p>" if title else ""
    if outcome.rows == 0 and not outcome.preview.columns.empty and shown.empty:
        return (f"<div class='run-result'>{RESULT_STYLE}{notices}{heading}{empty_html(query)}{facts}"
                f"{funnel_html(query.funnel, query.funnel_unit)}{share}{charts}</div>")
    table = "" if _is_the_funnel(shown, query.funnel) else table_html(shown, query.headers, query.shares)
    return (f"<div class='run-result'>{RESULT_STYLE}{notices}{heading}{count_html(outcome, len(shown))}{facts}"
            f"{funnel_html(query.funnel, query.funnel_unit)}{files_html(outcome, downloads_url)}{share}{charts}{table}</div>")


def _is_the_funnel(shown: pd.DataFrame, funnel: tuple[tuple[str, int, int], ...]) -> bool:
    """A preview whose rows are the funnel's steps (an audience not saved yet): the bars already show them."""
    return bool(funnel) and not shown.empty and list(shown.iloc[:, 0]) == [step[0] for step in funnel]


def count_html(outcome: RunOutcome, shown: int) -> str:
    """"12,345 cards. The first 20 are shown below." in the report's own noun; nothing for a result that is not a
    list (an A/B summary's metrics), where a count of rows means nothing to its reader."""
    noun = outcome.query.row_noun
    if noun is None:
        return ""
    more = f" The first {shown:,} are shown below." if outcome.rows > shown else ""
    return (f"<p class='count'><b class='row-count'>{outcome.rows:,}</b> "
            f"{html.escape(plural(outcome.rows, *noun))}.{html.escape(more)}</p>")


def empty_html(query: ReportQuery) -> str:
    """"No cards for these values. The data starts on 02.06.2026." instead of a count of 0 and empty files."""
    what = f"No {query.row_noun[1]}" if query.row_noun else "Nothing"
    return (f"<p class='empty'><b>{html.escape(what)} for these values.</b>"
            f"{' ' + html.escape(query.empty_text) if query.empty_text else ''}</p>")


def table_html(frame: pd.DataFrame, headers: Mapping[str, str], shares: Collection[str] = ()) -> str:
    """The preview as a person reads it: each header over its column, numbers right-aligned with thousands
    separators, shares as %, days as 01.08.2026, empty cells instead of None/NaN, yes/no for switches.

    Written here rather than by ``DataFrame.to_html``, whose header row carries its own alignment (headers sat
    over the wrong columns in Voilà) and whose floats come out as 5.792730e-07. The box scrolls sideways when
    the table is wider than the page.
    """
    if frame.columns.empty:
        return ""
    columns = [_column_cells(frame[name], str(name), str(name) in shares or name in shares) for name in frame.columns]
    head = "".join(f"<th class='{kind}'>{html.escape(str(headers.get(name, name)))}</th>"
                   for name, (kind, _) in zip(frame.columns, columns, strict=True))
    body = "".join("<tr>" + "".join(f"<td class='{kind}'>{html.escape(cells[row])}</td>" for kind, cells in columns)
                   + "</tr>" for row in range(len(frame)))
    wide = (f"<p class='table-note'>{html.escape(counted(len(columns), 'column'))}: scroll the table sideways to "
            "see them all.</p>") if len(columns) > WIDE_TABLE_COLUMNS else ""
    return (f"{wide}<div class='table-box'><table class='preview'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def _column_cells(values: pd.Series, name: str, share: bool) -> tuple[str, list[str]]:
    """A column's alignment class ("num" or "text") and its cells as text."""
    identifier = name == "id" or name.endswith("_id")
    if pd.api.types.is_bool_dtype(values):
        return "text", [plain_value(value) for value in values]
    if pd.api.types.is_datetime64_any_dtype(values):
        known = values.dropna()
        layout = ("%d.%m.%Y" if bool((known == known.dt.normalize()).all())
                  else "%d.%m.%Y %H:%M" if bool((known.dt.second == 0).all() and (known.dt.microsecond == 0).all())
                  else "%d.%m.%Y %H:%M:%S")
        return "text", [value.strftime(layout) if not pd.isna(value) else "" for value in values]
    cells = [plain_value(value, share=share, identifier=identifier) for value in values]
    filled = [value for value in values if not _is_empty(value)]
    numeric = [value for value in filled if _is_number(value)]
    return ("num" if filled and len(numeric) == len(filled) else "text"), cells


def plain_value(value: Any, *, share: bool = False, identifier: bool = False) -> str:
    """One cell in the page's words: no None, NaN, True or e-notation; days as 01.08.2026."""
    if _is_empty(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, str):
        return _plain_text(value)
    if isinstance(value, dt.datetime | pd.Timestamp):
        return f"{value:%d.%m.%Y}" if value == value.replace(hour=0, minute=0, second=0, microsecond=0) \
            else f"{value:%d.%m.%Y %H:%M:%S}"
    if isinstance(value, dt.date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, int | np.integer) and not share:  # exact: a float would round a long ID
        return str(int(value)) if identifier else f"{int(value):,}"
    if _is_number(value):
        if identifier and float(value).is_integer():
            return str(int(value))
        return plain_share(float(value)) if share else plain_number(float(value))
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(plain_value(item) for item in value)
    return _plain_text(str(value))


def plain_number(value: float) -> str:
    """12345 → "12,345"; 8.005319 → "8.01"; 0.451549 → "0.452"; 5.79e-07 → "< 0.001" (never e-notation)."""
    value = float(value)
    if math.isinf(value):
        return "infinite" if value > 0 else "minus infinite"
    size = abs(value)
    if value.is_integer() and size < 1e18:
        return f"{int(value):,}"
    if size < 0.001:
        return "< 0.001" if value > 0 else "> -0.001"
    decimals = 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 1 else 3
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def plain_share(value: float) -> str:
    """A share 0..1 as a percentage: 0.1234 → "12.3%", 0.5 → "50%", 0.0000004 → "< 0.1%"."""
    percent = value * 100
    if percent and abs(percent) < 0.1:
        return "< 0.1%" if percent > 0 else "> -0.1%"
    text = f"{percent:,.1f}"
    return f"{text[:-2] if text.endswith('.0') else text}%"


def plain_words(text: str) -> str:
    """A count written "3 winner(s)" as a person writes it: "3 winners", "1 check" (the regular plurals that
    "(s)" stands for), wherever a report's sentence still has one."""
    return COUNTED_S.sub(lambda found: f"{found[1]} {plural(int(found[1].replace(',', '')), found[2])}", text)


def _plain_text(text: str) -> str:
    """Text as written, except the traces of a program a person should not see: "None" and "nan" are empty,
    "True"/"False" are yes/no, an ISO day is 01.08.2026."""
    if text in ("None", "nan", "NaN", "NaT"):
        return ""
    if text in ("True", "False"):
        return "yes" if text == "True" else "no"
    if ISO_DAY.fullmatch(text):
        return f"{text[8:10]}.{text[5:7]}.{text[:4]}"
    if text.startswith("{") and text.endswith("}"):
        return _plain_record(text)
    return text


def _plain_record(text: str) -> str:
    """A JSON object in a cell (the activity log's parameters) as "name: value" pairs in the page's words; the
    empty ones left out, so no ``null`` or ``""`` reaches the page."""
    try:
        record = json.loads(text)
    except ValueError:
        return text
    if not isinstance(record, dict):
        return text
    pairs = ((name, plain_value(value)) for name, value in record.items())
    return ", ".join(f"{name}: {shown}" for name, shown in pairs if shown)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, list | tuple | np.ndarray) else False
    except (TypeError, ValueError):
        return False


NOTICE_COLOURS = {"red": ("#fdecea", "#b00020"), "yellow": ("#fff8e1", "#8a6d00"), "ok": ("#e8f5e9", "#1b5e20"),
                  "info": ("#eef3f8", "#33475b")}


def notice_html(notice: Notice) -> str:
    """A gate's verdict as a coloured box, first on the page."""
    background, colour = NOTICE_COLOURS.get(notice.level, NOTICE_COLOURS["info"])
    return (f"<p class='notice notice-{html.escape(notice.level)}' style='background:{background};color:{colour};"
            f"padding:6px 10px;border-left:4px solid {colour}'>{html.escape(plain_words(notice.text))}</p>")


def chart_html(chart: Chart) -> str:
    """A chart as an inline PNG: it travels with the page and the executed notebook, no file to serve."""
    data = base64.b64encode(chart.png).decode("ascii")
    title = html.escape(chart.title)
    return (f"<figure class='chart'><figcaption>{title}</figcaption>"  # the title first, as a dashboard's card has it
            f"<img src='data:image/png;base64,{data}' alt='{title}' style='max-width:100%'></figure>")


def files_html(outcome: RunOutcome, downloads_url: str) -> str:
    """One row of download buttons per result ("Target group"), the XLSX first: it is the file for Excel, which
    turns 38299183008722779 into 38299183008722800 in a CSV and drops a barcode's leading zeros. A file with
    no rows is not offered (the page says the result is empty)."""
    groups: dict[str, list[ExportResult]] = {}
    for result in outcome.files:
        if result.rows or outcome.rows:
            groups.setdefault(outcome.file_labels.get(result.path.name, ""), []).append(result)
    nouns = {query.label: query.row_noun for query in (*outcome.query.also, outcome.query)}  # each result's own
    rows = []
    for label, results in groups.items():
        ordered = sorted(results, key=lambda result: FORMAT_ORDER.get(result.format, len(FORMAT_ORDER)))
        noun = nouns.get(label, outcome.query.row_noun)  # "816 participants" beside "3 winners"
        buttons = " ".join(file_html(result, downloads_url, noun) for result in ordered)
        caption = f"<span class='files-label'>{html.escape(label)}</span>" if label else ""
        rows.append(f"<div class='files'>{caption}{buttons}</div>")
    offered = {result.format for results in groups.values() for result in results}
    hint = (CSV_HINT if "xlsx" in offered else CSV_ONLY_HINT) if "csv" in offered and downloads_url else ""
    return "".join(rows) + (f"<p class='files-hint'>{html.escape(hint)}</p>" if hint else "")


def file_html(result: ExportResult, downloads_url: str, noun: tuple[str, str] | None) -> str:
    """A download button: "Download for Excel (XLSX) · 1.2 MB · 12,345 cards" (the file itself, not a page)."""
    what = FORMAT_WORDS.get(result.format, f"Download {result.format.upper()}")
    details = [size] if (size := file_size(result.path)) else []
    details.append(counted(result.rows, *(noun or ("row", "rows"))))
    if result.extra_sheets:
        details.append(f"with the {plural(len(result.extra_sheets), 'sheet')} "
                       + ", ".join(f"“{sheet}”" for sheet in result.extra_sheets))
    elif result.sheets > 1:
        details.append(f"{result.sheets} sheets, each with the header")
    text = html.escape(" · ".join([what, *details]))
    name = html.escape(result.path.name)
    if not downloads_url:
        return f"<span class='file file-{result.format}'>{name}</span> <small>({html.escape(result.note)})</small>"
    return (f"<a class='download download-{result.format}' href='{html.escape(downloads_url + result.path.name)}' "
            f"download='{name}'>{text}</a>")


def file_size(path: Path) -> str:
    """The file's size as a person reads it ("18 KB", "1.2 MB"); "" when it cannot be read."""
    try:
        size = path.stat().st_size
    except OSError:
        return ""
    if size < 1024:
        return counted(size, "byte")
    for unit, scale in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        if size < scale * 1024 or unit == "GB":
            value = size / scale
            return f"{value:,.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return ""


def funnel_html(steps: tuple[tuple[str, int, int], ...], unit: str = "People") -> str:
    """Steps as horizontal bars (people, or ``unit``, still in after each), with how many each step left out."""
    if not steps:
        return ""
    widest = max(max(step[1] for step in steps), 1)
    rows = "".join(
        f"<tr class='funnel-step'><td>{html.escape(label)}</td><td style='text-align:right'>{remaining:,}</td>"
        f"<td style='width:40%'><div style='background:#1565c0;height:12px;width:{100 * remaining / widest:.1f}%'>"
        f"</div></td><td style='color:#777'>{f'−{left_out:,}' if left_out else ''}</td></tr>"
        for label, remaining, left_out in steps)
    return ("<table class='funnel'><tr><th>Step</th>"
            f"<th>{html.escape(unit)}</th><th></th><th>Left out here</th></tr>"
            f"{rows}</table>")


def outcome_text(outcome: RunOutcome) -> str:
    """Plain text for a terminal or a chat message: the summary, the facts, one file per line."""
    lines = [notice.text for notice in outcome.query.notices] + [outcome.summary, *outcome.query.facts]
    lines += [f"  {label}: {remaining:,} (left out {left_out:,})" for label, remaining, left_out in outcome.query.funnel]
    lines += [f"{result.path} ({result.note})" for result in outcome.files]
    return "\n".join(plain_words(line) for line in lines)


def outcome_record(outcome: RunOutcome) -> dict[str, Any]:
    """What the runner reads back from the executed notebook: the run id, the rows, the files."""
    headline = outcome.query.headline
    return {"run_id": outcome.run_id, "report": outcome.query.name, "rows": outcome.rows,
            "files": [str(result.path) for result in outcome.files],
            "headline": headline.as_json() if headline is not None else None}


def status_html(text: str, *, error: bool = False, kind: str = "status") -> str:
    style = f" style='{ERROR_STYLE}'" if error else ""  # the form's styles set the rest (its heading, its progress)
    return f"<p class='{kind}{' error' if error else ''}'{style}>{html.escape(plain_words(text))}</p>"


def field_error_html(text: str | None) -> str:
    return f"<span class='field-error' style='{ERROR_STYLE}'>{html.escape(text)}</span>" if text else ""


def label_html(label: str, help_text: str) -> tuple[str, str]:
    return (f"<span class='field-label'>{html.escape(label)}</span>",
            f"<span class='field-hint'>{html.escape(help_text)}</span>" if help_text else "")


def _url_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
