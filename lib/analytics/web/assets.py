"""Where the app's pages get what they load: from the app itself, never from another site.

Voilà's report page links Font Awesome from a CDN, and nbconvert's page of a scheduled run loads require.js
and MathJax from others; behind a firewall those pages break, and code from elsewhere runs on our origin.
The templates in ``page_templates/`` leave those links out (Voilà's own bundle, served by the app, already
carries Font Awesome and its fonts), and every response carries :data:`CONTENT_SECURITY_POLICY`, so a page
that still names another site is refused by the browser rather than quietly loading it.
"""

from __future__ import annotations

from pathlib import Path

PAGE_TEMPLATES = Path(__file__).parent / "page_templates"
VOILA_TEMPLATES = PAGE_TEMPLATES / "voila"  # looked up before Voilà's lab template, which it extends

# Voilà's pages need their inline scripts and styles, and the kernel's websocket ('self' covers ws: and wss:
# to the same host). Nothing may come from, or be sent to, another origin; no page of ours may be framed by one.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])


def voila_template_paths(paths: list[str]) -> list[str]:
    """Voilà's template search path with ours first."""
    return [str(VOILA_TEMPLATES), *(path for path in paths if path != str(VOILA_TEMPLATES))]


# The result of a run, wherever it is shown (the form, a run's page, JupyterLab): its styles travel inside it,
# scoped to .run-result. Downloads are buttons, not black text; tables keep headers over their columns.
RESULT_CSS = """
.run-result { font-size: 14px; color: #1f2933; max-width: 100%; min-width: 0; white-space: normal; }
.run-result p { margin: 6px 0; }
.run-result .title { font-size: 16px; font-weight: 600; }
.run-result .empty { background: #eef3f8; color: #33475b; padding: 10px 12px; border-left: 4px solid #33475b; }
.run-result .files { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin: 10px 0 4px; }
.run-result .files-label { font-weight: 600; min-width: 9em; }
.run-result a.download { display: inline-block; padding: 7px 14px; border-radius: 4px; font-weight: 600;
  text-decoration: none; border: 1px solid #1565c0; background: #fff; color: #1565c0; line-height: 1.4; }
.run-result a.download-xlsx { background: #1565c0; color: #fff; }
.run-result a.download:hover { background: #0d47a1; color: #fff; }
.run-result .files-hint { color: #52606d; font-size: 12px; }
.run-result a.share { color: #1565c0; }
.run-result .table-note { color: #52606d; font-size: 12px; margin-bottom: 0; }
.run-result .table-box { overflow-x: auto; width: fit-content; max-width: 100%; box-sizing: border-box;
  margin: 10px 0; border: 1px solid #d9e2ec;
  border-radius: 4px; }
.run-result table.preview { border-collapse: collapse; font-size: 13px; width: max-content;
  table-layout: auto; margin: 0; }
.run-result table.preview th { background: #f0f4f8; font-weight: 600; position: sticky; top: 0;
  border-bottom: 1px solid #bcccdc; vertical-align: bottom; max-width: 16em; white-space: normal; }
.run-result table.preview th, .run-result table.preview td { padding: 5px 10px; border-right: 1px solid #eef2f6; }
.run-result table.preview td { border-bottom: 1px solid #eef2f6; vertical-align: top; max-width: 28em;
  white-space: normal; }
.run-result table.preview tbody tr:nth-child(even) td { background: #fafbfc; }
.run-result table.preview .num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.run-result table.preview .text { text-align: left; }
.run-result table.funnel td, .run-result table.funnel th { padding: 3px 8px; text-align: left; }
.run-result figure.chart { margin: 16px 0; }
.run-result figure.chart figcaption { font-weight: 600; color: #1f2933; margin-bottom: 4px; }
"""

# The form: a panel of fields in a grid, each box of a checkbox grid beside its own label, a bar with Run and
# Cancel that stays on screen while the fields run past it. Scoped to .report-form (the form's own VBox).
FORM_CSS = """
.report-form { max-width: 1200px; font-size: 14px; color: #1f2933; }
.report-form, .jp-OutputArea:has(.report-form), .jp-OutputArea-child:has(.report-form),
.jp-OutputArea-output:has(.report-form) { overflow: visible !important; }  /* else the bar cannot stick */
.report-form .form-fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr));
  gap: 2px 24px; align-items: start; background: #f7f9fb; border: 1px solid #d9e2ec; border-radius: 6px;
  padding: 10px 14px 4px; }
.report-form .field { margin: 0 0 6px 0; min-width: 0; }
.report-form .field-wide { grid-column: 1 / -1; }
.report-form .field-label { font-weight: 600; font-size: 13px; }
.report-form .field-hint { color: #52606d; font-size: 12px; line-height: 1.3; display: block; }
.report-form .field .widget-text, .report-form .field .widget-dropdown, .report-form .field .widget-datepicker,
.report-form .field .widget-select-multiple { width: 100%; max-width: 100%; margin: 2px 0; }
.report-form .field .widget-html { margin: 0; }
.report-form .field .widget-html-content { line-height: 1.35; }
.report-form .checkbox-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr));
  gap: 0 16px; width: 100%; }
.report-form .checkbox-grid .widget-checkbox { width: auto; margin: 0; height: auto; min-height: 24px; }
.report-form .checkbox-grid .widget-checkbox label { display: flex; align-items: center; gap: 6px; }
.report-form .checkbox-grid .widget-checkbox label span { white-space: normal; overflow: visible; }
.report-form .form-bar { position: sticky; bottom: 0; z-index: 10; background: #fff; padding: 8px 0;
  border-top: 1px solid #d9e2ec; margin-top: 6px; }
.report-form .form-actions { gap: 8px; }
.report-form .form-actions .widget-button { width: auto; min-width: 110px; }
.report-form .widget-html, .report-form .widget-html-content { min-width: 0; max-width: 100%; }
.report-form .status { margin: 4px 0 0; font-size: 15px; }
.report-form .status:not(.error) { color: #1f2933; font-weight: 600; }
"""
