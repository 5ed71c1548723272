"""The web app: Voilà, plus a start page that lists the reports and downloads of exported files.

Voilà serves notebooks but not arbitrary files; the download handler here serves only files
directly under ``reports/exports/`` whose names our exporter makes, with the right name and type.
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from jupyter_server.utils import url_path_join
from tornado import web
from voila.app import Voila

from .config import load_settings

EXPORT_NAME = re.compile(r"^[\w.-]+\.(xlsx|csv)$", re.UNICODE)
CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8"}
AUDIENCES = {"account_managers": "Account managers", "marketing": "Marketers", "analysts": "Analysts",
             "monitoring": "On-call analysts"}


class ExportDownloadHandler(web.StaticFileHandler):
    """``/exports/<name>``: one exported file, as an attachment; nothing else on disk."""

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        name = Path(absolute_path).name
        if not EXPORT_NAME.match(name) or name.startswith(".") or Path(absolute_path).parent != Path(root):
            raise web.HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def get_content_type(self) -> str:
        return CONTENT_TYPES[Path(self.absolute_path).suffix.lstrip(".")]

    def set_extra_headers(self, path: str) -> None:
        name = Path(path).name
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}")
        self.set_header("Cache-Control", "no-store")


def report_catalog(notebooks: Path) -> list[dict[str, str]]:
    """Title, one-line description and audience of every report notebook (from its first markdown cell)."""
    reports = []
    for path in sorted(notebooks.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        text = next(("".join(c["source"]) for c in cells if c.get("cell_type") == "markdown"), "")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        title = lines[0].lstrip("# ") if lines else path.stem
        description = lines[1] if len(lines) > 1 else ""
        folder = path.parent.relative_to(notebooks).parts
        audience = AUDIENCES.get(folder[0], folder[0].replace("_", " ").capitalize()) if folder else ""
        reports.append({"title": title, "description": description, "audience": audience,
                        "path": path.relative_to(notebooks).as_posix()})
    return reports


class StartPageHandler(web.RequestHandler):
    """The list of reports: what each one gives and who it is for."""

    def initialize(self, notebooks: Path, base_url: str) -> None:
        self.notebooks, self.base_url = notebooks, base_url

    def get(self) -> None:
        rows = "".join(
            f"<li class='report'><a href='{html.escape(url_path_join(self.base_url, 'voila/render', quote(r['path'])))}'>"
            f"{html.escape(r['title'])}</a><div class='description'>{html.escape(r['description'])}</div>"
            f"<div class='audience'>For: {html.escape(r['audience'])}</div></li>" for r in report_catalog(self.notebooks))
        self.write(_START_PAGE.replace("{rows}", rows))


class AnalyticsApp(Voila):
    """Voilà with our start page, export downloads, and a warm kernel waiting for each report."""

    def initialize(self, argv: list[str] | None = None) -> None:
        if os.environ.get("ANALYTICS_PREHEAT", "1") == "0":  # plain Voilà start-up, for comparison
            super().initialize(argv)
            return
        notebooks = load_settings().notebooks
        pools = {path.relative_to(notebooks).as_posix(): {
            "pool_size": 1, "kernel_env_variables": {"ANALYTICS_NOTEBOOK": str(path)}}
            for path in notebooks.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts}
        self.config.VoilaConfiguration.preheat_kernel = True
        self.config.VoilaKernelManager.kernel_pools_config = pools
        super().initialize(argv)

    def init_handlers(self) -> list:
        settings = load_settings()
        exports = settings.reports_dir / "exports"
        exports.mkdir(parents=True, exist_ok=True)
        ours = [
            (url_path_join(self.server_url, r"/exports/(.*)"), ExportDownloadHandler, {"path": str(exports)}),
            (self.server_url, StartPageHandler, {"notebooks": Path(self.root_dir), "base_url": self.base_url}),
        ]
        return ours + super().init_handlers()


_START_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Reports</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
li.report { list-style: none; margin: 0 0 1.2rem 0; } li.report a { font-size: 1.15rem; }
.description { margin-top: .2rem; } .audience { color: #666; font-size: .9rem; }
</style></head>
<body><h1>Reports</h1><p>Pick a report, fill the form, press Run, and download the file.</p>
<ul class="reports">{rows}</ul></body></html>
"""

main = AnalyticsApp.launch_instance

if __name__ == "__main__":
    main()
