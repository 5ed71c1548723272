"""A scheduled run as a page: the executed notebook rendered to one self-contained HTML file.

The page is what an alert links to (served by the app under ``/runs/``, or opened as a file). It shows the
run's saved outputs with the styles inlined and no scripts: nothing is fetched from another site, so it
opens the same behind a firewall and under the app's content-security policy.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .web.assets import PAGE_TEMPLATES, RUN_PAGE_TEMPLATE

log = logging.getLogger(__name__)


def run_page_html(executed: Path) -> str:
    """The executed notebook as HTML that loads nothing from elsewhere."""
    import nbformat  # noqa: PLC0415 - only where pages are rendered
    from nbconvert import HTMLExporter  # noqa: PLC0415

    exporter = HTMLExporter(extra_template_basedirs=[str(PAGE_TEMPLATES)], template_name=RUN_PAGE_TEMPLATE)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    return body


def render_run_page(executed: Path, target: Path) -> Path | None:
    """Write the run's page; a rendering failure is logged and gives None (the executed notebook is kept)."""
    try:
        target.write_text(run_page_html(executed), encoding="utf-8")
    except Exception:  # noqa: BLE001 - the run's record stays; only its page is missing
        log.warning("could not render %s as HTML", executed, exc_info=True)
        return None
    return target
