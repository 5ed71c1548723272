"""``make screenshots``: the home page and every report, run with its defaults, as full-page PNGs anyone can look at.

Developers change the pages often, and a page is judged by looking at it, not by reading its HTML. This starts
a temporary ``analytics serve`` (its own home folder, a copy of the demo store, the demo Amplitude), opens each
page in Debian's Chromium at 1280×800, presses Run, waits for the result or an error line, and writes
``home.png`` and one ``<notebook>.png`` per report under ``reports/screenshots/``. It prints a table of the pages,
the seconds each took and the error line a page showed, so a broken report is seen without opening a picture.

It relies only on what every report page has and keeps: a button labelled Run, the ``.status`` line,
``.run-result`` for a result, ``.status.error`` and ``.field-error`` for what went wrong.

Run: ``.venv/bin/python -m analytics.screenshots [--store PATH] [--out reports/screenshots] [--only NAME,NAME]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import load_settings
from .errors import AnalyticsError

VIEWPORT = {"width": 1280, "height": 800}
RUN_LABEL = re.compile(r"^\s*Run\s*$")  # the text, not the accessible name: Chromium adds the icon's glyph to that
START_SECONDS = 180  # the app preheats one kernel per report before its first page answers quickly
# Done: Run is enabled again, Cancel is not (the files are written too), and the page shows a result, an error,
# or a status line other than before the click.
RUN_FINISHED = """(before) => {
  const button = label => [...document.querySelectorAll('button')].find(b => b.textContent.trim() === label);
  const run = button('Run'), cancel = button('Cancel');
  const status = document.querySelector('.status');
  const changed = status !== null && status.innerText.trim() !== '' && status.innerText !== before;
  const shown = document.querySelector('.run-result, .status.error, .field-error') !== null || changed;
  return run !== undefined && !run.disabled && (cancel === undefined || cancel.disabled) && shown;
}"""

# Voilà's page scrolls inside an inner box, so Chromium's "full page" is one screen: the tallest scrolling box says
# how tall the window must be for everything to show at once.
CONTENT_HEIGHT = """() => {
  let height = document.documentElement.scrollHeight;
  for (const element of document.querySelectorAll('*')) {
    const overflow = getComputedStyle(element).overflowY;
    if ((overflow === 'auto' || overflow === 'scroll') && element.scrollHeight > element.clientHeight) {
      element.scrollTop = 0;
      height = Math.max(height, element.getBoundingClientRect().top + window.scrollY + element.scrollHeight);
    }
  }
  window.scrollTo(0, 0);
  return Math.ceil(height);
}"""
MAX_HEIGHT = 16_000  # Chromium's limit for one capture is 16,384 px
# A value a report cannot run without, as a person would type it on the demo (the demo Amplitude's cohorts)
DEMO_VALUES = {"push_audience": {"cohort_id": "demo_ios"}, "retargeting_audience": {"cohort_id": "demo_ios"}}
# A file a report cannot run without: a generated contact list, chosen in the file dialog as a person would
DEMO_FILES = {"contact_list": "source"}


class ScreenshotError(AnalyticsError):
    """The screenshots could not be taken at all (no app, no browser); one report's failure is a row, not this."""


@dataclass
class Shot:
    page: str  # "home" or the notebook's name
    seconds: float
    error: str  # the error line the page showed, or what kept the page from finishing; "" when it ran
    path: Path


def report_paths(notebooks: Path, only: set[str] | None = None) -> list[Path]:
    """Report notebooks relative to ``notebooks``, by folder and name; ``only`` keeps those named (without .ipynb)."""
    found = sorted(path.relative_to(notebooks) for path in notebooks.rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in path.parts)
    return [path for path in found if only is None or path.stem in only]


def copy_store(source: Path, target: Path) -> None:
    """A private copy of an embedded store for the app to run reports on (some reports write): Parquet parts,
    which the store never changes once written, are hard links (instant, no space); every other file is copied."""
    def link_or_copy(src: str, dst: str) -> None:
        if src.endswith(".parquet"):
            try:
                os.link(src, dst)
                return
            except OSError:  # another file system: copy instead
                pass
        shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link_or_copy)


def free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(home: Path, store_url: str, notebooks: Path, log_path: Path) -> Iterator[str]:
    """A real ``analytics serve`` on a free loopback port with the demo Amplitude and amoCRM; yields its address once it
    answers."""
    port = free_port()
    env = {**os.environ, "ANALYTICS_HOME": str(home), "ANALYTICS_DB_URL": store_url, "ANALYTICS_NOTEBOOKS": str(notebooks),
           "ANALYTICS_AMPLITUDE_URL": "demo", "ANALYTICS_AMOCRM_URL": "demo"}
    base = f"http://127.0.0.1:{port}/"
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen([sys.executable, "-m", "analytics.cli", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + START_SECONDS
            while not _answers(base):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ScreenshotError(f"The app did not start within {START_SECONDS} s; its output is in {log_path}.")
                time.sleep(0.5)
            yield base
        finally:
            if process.poll() is None:
                os.killpg(process.pid, 15)
                process.wait(timeout=60)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def whole_page(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """A PNG of everything the page shows, however tall: the window grows to the content, then returns to 1280×800."""
    try:
        for _ in range(2):  # a taller window can reflow the page once
            height = min(max(int(page.evaluate(CONTENT_HEIGHT)), VIEWPORT["height"]), MAX_HEIGHT)
            page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
            page.wait_for_timeout(300)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)


def shoot_home(page, base: str, out: Path) -> Shot:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    page.goto(base, wait_until="networkidle")
    path = out / "home.png"
    whole_page(page, path)
    return Shot("home", time.monotonic() - started, "", path)


def shoot_report(page, base: str, report: Path, out: Path, timeout: float) -> Shot:  # type: ignore[no-untyped-def]
    """Open a report, press Run with its defaults, wait for the result or an error, and take the whole page."""
    started, error = time.monotonic(), ""
    page.goto(f"{base}voila/render/{report.as_posix()}")
    run = page.locator("button").filter(has_text=RUN_LABEL).first
    try:
        run.wait_for(state="visible", timeout=timeout * 1000)
        for name, value in DEMO_VALUES.get(report.stem, {}).items():
            page.fill(f".param-{name} input", value)
        if report.stem in DEMO_FILES:
            choose_demo_file(page, DEMO_FILES[report.stem], out)
        before = page.locator(".status").first.inner_text() if page.locator(".status").count() else ""
        run.click()
        page.wait_for_function(RUN_FINISHED, arg=before, timeout=timeout * 1000, polling=250)
        error = shown_error(page)
    except Exception as failure:  # noqa: BLE001 - a page that never finished is a row of the table, not the end
        error = f"did not finish within {timeout:.0f} s" if "Timeout" in type(failure).__name__ else str(failure)
    path = out / f"{report.stem}.png"
    whole_page(page, path)
    return Shot(report.stem, time.monotonic() - started, error, path)


def choose_demo_file(page, field: str, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Upload a generated 5,000-row contact list (Windows-1251, planted duplicates and bad rows) into ``field``."""
    from .hygiene.sample import generate  # noqa: PLC0415 - only the contact list's shot needs it

    sample = generate(out / "demo-contact-list.csv", 5000, seed=7)
    with page.expect_file_chooser() as chooser:
        page.click(f"button.param-{field}")
    chooser.value.set_files(str(sample.path))
    page.wait_for_selector(f".field-{field} .file-chosen", state="visible", timeout=60_000)
    page.wait_for_function(f"() => document.querySelector('.field-{field} .file-chosen')?.innerText.includes('demo')")


def shown_error(page) -> str:  # type: ignore[no-untyped-def]
    """The error line a page shows: the red status, else the fields' own messages, one line."""
    lines = [text for selector in (".status.error", ".field-error") for text in page.locator(selector).all_inner_texts()]
    return " / ".join(" ".join(line.split()) for line in lines if line.strip())


def take(notebooks: Path, store: Path | None, out: Path, only: set[str] | None = None, timeout: float = 300) -> list[Shot]:
    """Serve ``notebooks`` on a private copy of ``store`` (the small demo when None) and shoot every page into ``out``."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - a test and tooling dependency

    from .testing.browser import CHROMIUM_ARGS, chromium_executable  # noqa: PLC0415

    reports = report_paths(notebooks, only)
    if not reports:
        raise ScreenshotError(f"No report notebook under {notebooks}" + (f" named {', '.join(sorted(only))}." if only else "."))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="analytics-screenshots-") as temporary:
        home = Path(temporary)
        served = _private_notebooks(notebooks, reports, home / "notebooks")
        store_url = _private_store(store, home / "warehouse")
        _demo_raffle(store_url, home)
        with serving(home, store_url, served, out / "app.log") as base, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
                page = context.new_page()
                shots = [shoot_report(page, base, report, out, timeout) for report in reports]
                if only is None:  # every report is served: the tile jobs' schedules all find their notebooks
                    _refresh_tiles(home, store_url, served)
                shots.insert(0, shoot_home(page, base, out))
            finally:
                browser.close()
    return shots


def _refresh_tiles(home: Path, store_url: str, notebooks: Path) -> None:
    """The home page's tiles, computed as ``make run`` computes them, so its picture shows figures."""
    env = {**os.environ, "ANALYTICS_HOME": str(home), "ANALYTICS_DB_URL": store_url,
           "ANALYTICS_NOTEBOOKS": str(notebooks)}
    subprocess.run([sys.executable, "-m", "analytics.cli", "tiles", "--refresh", "--missing"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=900)


def _private_notebooks(notebooks: Path, reports: list[Path], target: Path) -> Path:
    """Only the chosen reports (with their folders' access files): the app preheats a kernel for each it serves."""
    for report in reports:
        (target / report.parent).mkdir(parents=True, exist_ok=True)
        shutil.copy2(notebooks / report, target / report)
        access = notebooks / report.parent / "access.json"
        if access.is_file():
            shutil.copy2(access, target / report.parent / "access.json")
    return target


def _private_store(store: Path | None, target: Path) -> str:
    """A copy of the demo store to write in, or a new small demo warehouse (with its CRM) when there is none."""
    if store is not None and store.is_dir():
        copy_store(store, target)
        return f"chdb://{target}"
    from .crm.demo import load_demo  # noqa: PLC0415
    from .db import connect  # noqa: PLC0415
    from .warehouse import demo  # noqa: PLC0415

    url = f"chdb://{target}"
    with connect(url) as db:
        demo.load(db, "small")
        load_demo(db)
    return url


def _demo_raffle(store_url: str, home: Path) -> None:
    """The demo raffle's salt (a published demo value) in the temporary home, so the raffle page can draw."""
    from .db import connect  # noqa: PLC0415
    from .raffle import demo as raffle_demo  # noqa: PLC0415

    with connect(store_url) as db:
        raffle_demo.set_up_raffle(db, load_settings(home=home))


def print_shots(shots: list[Shot], out: Path) -> None:
    width = max(len(shot.page) for shot in shots)
    print(f"{'page':<{width}}  seconds  error shown")
    for shot in shots:
        print(f"{shot.page:<{width}}  {shot.seconds:7.1f}  {shot.error or '—'}")
    print(f"{len(shots)} screenshots in {out}/")


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    default_store = Path(settings.database_url[len("chdb://"):]) if settings.database_url.startswith("chdb://") else None
    parser = argparse.ArgumentParser(prog="python -m analytics.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=default_store,
                        help="embedded store to copy for the app (default: the demo store; a new small demo if absent)")
    parser.add_argument("--notebooks", type=Path, default=settings.notebooks, help="the reports' folder")
    parser.add_argument("--out", type=Path, default=settings.reports_dir / "screenshots", help="where the PNGs go")
    parser.add_argument("--only", default="", help="comma-separated notebook names (default: every report)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds a report may take to show its result")
    args = parser.parse_args(argv)
    only = {name.strip().removesuffix(".ipynb") for name in args.only.split(",") if name.strip()} or None
    try:
        shots = take(args.notebooks, args.store, args.out, only, args.timeout)
    except AnalyticsError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print_shots(shots, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
