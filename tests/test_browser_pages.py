"""Every shipped report, opened in a real headless Chromium against a real `analytics serve` and run with its
defaults, reads like a product: Run on the first screen at 1280×800, downloads that look like buttons and give
the file on disk, tables whose headers sit over their columns, and no word of a program (None, True, e-notation,
"(s)") anywhere on the page.

One app for the module, on a store of its own (the raffle draws and the recalculation write), with the demo
Amplitude and amoCRM that `make run` uses; each report runs once.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics import connect, load_settings
from analytics.access.identity import os_user, user_folder
from analytics.hygiene.sample import generate
from analytics.raffle import demo as raffle_demo
from analytics.warehouse import demo

from .conftest import REPO, SEED, running_app

REPORTS = sorted((REPO / "notebooks").rglob("*.ipynb"))
FILLED = {"push_audience": {"cohort_id": "demo_sample"},  # a cohort the demo Amplitude serves; no default ID
          "retargeting_audience": {"cohort_id": "demo_sample"}}
UPLOADED = {"contact_list": "source"}  # the file field of reports that take a file
PROGRAM_WORDS = re.compile(r"e-0\d|None|True|False|\(s\)")
SCREEN = {"width": 1280, "height": 800}
RUN = "button:has-text('Run')"

TEXT_NODES = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), found = [];
  for (let node; (node = walker.nextNode());) {
    if (!node.parentElement.closest('style, script')) found.push(node.textContent);
  }
  return found;
}"""

# Each header's text against its column's cells' text (the first rows): a number column's right edges meet, a
# text column's left edges; pandas' own tables right-aligned every header over left-aligned cells.
MISALIGNED = """() => {
  const text = (element) => { const range = document.createRange(); range.selectNodeContents(element);
                              return range.getBoundingClientRect(); };
  return [...document.querySelectorAll('.run-result table.preview')].flatMap(table => {
    const headers = [...table.querySelectorAll('thead th')];
    return [...table.querySelectorAll('tbody tr')].slice(0, 5).flatMap(row => [...row.children].map((cell, i) => {
      if (!headers[i]) return `a cell with no header in column ${i + 1}`;
      if (!cell.textContent.trim() || !headers[i].textContent.trim()) return null;
      const head = text(headers[i]), box = text(cell), column = headers[i].getBoundingClientRect(),
            own = cell.getBoundingClientRect();
      const same = Math.abs(column.left - own.left) < 1 && Math.abs(column.right - own.right) < 1;
      const edges = Math.abs(head.left - box.left) < 2 || Math.abs(head.right - box.right) < 2;
      return same && edges ? null : `${headers[i].textContent}: header text ${head.left}–${head.right}, `
        + `cell text ${box.left}–${box.right} (“${cell.textContent}”)`;
    })).filter(Boolean);
  });
}"""

# Every box a preview table makes wider than itself, other than its own scrolling box (.table-box).
SPILLS = """() => [...document.querySelectorAll('.run-result table.preview')].flatMap(table => {
  const spills = [];
  for (let box = table.parentElement; box && box !== document.body; box = box.parentElement) {
    if (box.classList.contains('table-box')) continue;
    if (box.scrollWidth > box.clientWidth + 1) spills.push(`${box.tagName}.${box.className}`);
  }
  return spills;
})"""

LOOK = ["color", "background-color", "padding-top", "border-top-style", "text-decoration-line", "font-weight"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pages-home")


@pytest.fixture(scope="module")
def app(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"chdb://{tmp_path_factory.mktemp('pages-store')}"
    with connect(url) as db:
        demo.load(db, "small", SEED)
        raffle_demo.set_up_raffle(db, load_settings(home=home))  # as `analytics demo-data` does
    demos = {"ANALYTICS_AMPLITUDE_URL": "demo", "ANALYTICS_AMOCRM_URL": "demo"}
    with running_app(url, home, **demos, ANALYTICS_PREHEAT="0") as base:  # a kernel per visit
        yield base


@pytest.fixture(scope="module")
def screen(browser):  # type: ignore[no-untyped-def]
    """One 1280×800 page for the module's reports (a visit ends the previous report's kernel)."""
    context = browser.new_context(accept_downloads=True, viewport=SCREEN)
    yield context.new_page()
    context.close()


def run_with_defaults(page, app: str, notebook: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app + "voila/render/" + notebook.relative_to(REPO / "notebooks").as_posix())
    page.wait_for_selector(RUN, timeout=120_000)
    box = page.locator(RUN).bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= SCREEN["height"], box  # first screen
    for name, value in FILLED.get(notebook.stem, {}).items():
        page.fill(f".param-{name} input", value)
    if notebook.stem in UPLOADED:  # a report of a file: a small generated list, chosen as a person would
        sample = generate(Path(tempfile.mkdtemp()) / "list.csv", 2000, seed=1)
        with page.expect_file_chooser() as chooser:
            page.click(f"button.param-{UPLOADED[notebook.stem]}")
        chooser.value.set_files(str(sample.path))
        page.wait_for_selector(f".field-{UPLOADED[notebook.stem]} .file-chosen :text('list.csv')", timeout=60_000)
    page.click(RUN)
    page.wait_for_selector(".run-result, .status.error", timeout=180_000)
    page.wait_for_function("() => { const run = [...document.querySelectorAll('button')]"
                           ".find(button => button.textContent.includes('Run')); return run && !run.disabled; }",
                           timeout=180_000)  # the run is over: its files, or its error
    assert page.locator(".status.error").count() == 0, page.inner_text(".status")


def downloads_are_buttons_of_the_files_on_disk(page, home: Path) -> int:  # type: ignore[no-untyped-def]
    body = page.evaluate(f"() => {{ const s = getComputedStyle(document.querySelector('.run-result p, .run-result')); "
                         f"return {LOOK}.map(name => s.getPropertyValue(name)); }}")
    folder = home / "reports" / "exports" / user_folder(os_user())  # loopback, no sign-in: the local user, an admin
    links = page.locator("a.download").all()
    for link in links:
        look = link.evaluate(f"(a) => {{ const s = getComputedStyle(a); return {LOOK}.map(n => s.getPropertyValue(n)); }}")
        assert look[1] != body[1] and look[2] != body[2] and look[3] != body[3] and look[5] != body[5], (look, body)
        assert re.search(r"· [\d.,]+ (KB|MB|GB|bytes?) · [\d,]+ \w+", link.inner_text()), link.inner_text()
        with page.expect_download() as started:
            link.click()
        name = started.value.suggested_filename
        assert Path(started.value.path()).read_bytes() == (folder / name).read_bytes()
    formats = [link.get_attribute("class").split("download-")[1] for link in links]
    if "xlsx" in formats and "csv" in formats:
        assert formats.index("xlsx") < formats.index("csv")  # the file for Excel first
    return len(links)


@pytest.mark.parametrize("notebook", REPORTS, ids=[path.stem for path in REPORTS])
def test_every_report_reads_like_a_product(screen, app: str, home: Path, notebook: Path) -> None:  # type: ignore[no-untyped-def]
    run_with_defaults(screen, app, notebook)
    words = [text for text in screen.evaluate(TEXT_NODES) if PROGRAM_WORDS.search(text)]
    assert words == []
    assert screen.evaluate(MISALIGNED) == []
    assert screen.evaluate(SPILLS) == []  # a wide table scrolls inside its own box, not the page or the output
    if screen.locator(".run-result table.preview").count():
        assert screen.locator(".run-result .table-box table.preview").count() == screen.locator(
            ".run-result table.preview").count()
    assert screen.locator(".run-result .title").count() == 0  # the status line names the result once
    downloads_are_buttons_of_the_files_on_disk(screen, home)


def test_every_shipped_report_is_checked() -> None:
    assert len(REPORTS) == 17


def test_a_partner_is_found_by_a_word_of_its_name_and_run_by_its_id(screen, app: str) -> None:  # type: ignore[no-untyped-def]
    screen.goto(app + "voila/render/account_managers/plastic_cards.ipynb")
    screen.wait_for_selector(".search-partner_id input", timeout=120_000)
    every = screen.locator(".param-partner_id select option").count()
    screen.fill(".search-partner_id input", "вкус")
    screen.wait_for_function("() => document.querySelectorAll('.param-partner_id select option').length === 2")
    shown = {text.replace("\xa0", " ") for text in screen.locator(".param-partner_id select option").all_inner_texts()}
    assert shown == {"ВкусВилл", "Азбука вкуса"}
    assert every > 15
    screen.select_option(".param-partner_id select", label="Азбука вкуса")
    screen.click(RUN)
    screen.wait_for_selector(".run-result a.download-xlsx", timeout=120_000)
    assert "Азбука вкуса" in screen.inner_text(".status")


def test_an_empty_result_says_so_and_offers_no_file(screen, app: str) -> None:  # type: ignore[no-untyped-def]
    screen.goto(app + "voila/render/account_managers/plastic_cards.ipynb?partner_id=1&start=2020-01-01&end=2020-01-31")
    screen.wait_for_selector(RUN, timeout=120_000)
    screen.click(RUN)
    screen.wait_for_selector(".run-result .empty", timeout=120_000)
    assert screen.inner_text(".run-result .empty").startswith("No ")
    assert screen.locator("a.download").count() == 0 and screen.locator("table.preview").count() == 0
