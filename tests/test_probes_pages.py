"""The page findings of the security probe (issue 17): report pages and run pages load nothing from another
site and carry a content-security policy, and a link cannot make a report do what its form would not.
Each against a real `analytics serve`, in real Chromium with every request the page makes recorded."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from analytics import Database, load_settings
from analytics.errors import ParameterError
from analytics.forms import ReportForm
from analytics.page import prefilled
from analytics.params import declaration
from analytics.reports import monitoring
from analytics.run_pages import render_run_page
from analytics.runner import run_notebook
from analytics.testing.runs import run_context
from analytics.web.assets import CONTENT_SECURITY_POLICY

from .conftest import REPO, Served, report_folders, serving, wait_until
from .test_probes_web import app_kernels

PLASTIC = "account_managers/plastic_cards.ipynb"
EVENTS = "monitoring/events.ipynb"
VIOLATIONS = """document.addEventListener("securitypolicyviolation",
    (event) => (window.cspViolations = window.cspViolations || []).push(event.violatedDirective + " " + event.blockedURI));"""


@dataclass
class Recorded:
    """What a page asked for: every request and websocket, the browser's errors, the policy's refusals."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def elsewhere(self, base: str) -> list[str]:
        origin = urlsplit(base).netloc
        return [url for url in self.requests if urlsplit(url).scheme not in ("data", "blob")
                and urlsplit(url).netloc != origin]


def recording(page) -> Recorded:  # type: ignore[no-untyped-def]
    recorded = Recorded()
    page.on("request", lambda request: recorded.requests.append(request.url))
    page.on("websocket", lambda socket: recorded.requests.append(socket.url))
    page.on("console", lambda message: recorded.errors.append(message.text) if message.type == "error" else None)
    page.add_init_script(VIOLATIONS)
    return recorded


def violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.evaluate("window.cspViolations || []")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def app(embedded_url: str, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    notebooks = report_folders(tmp_path_factory.mktemp("pages"), PLASTIC, EVENTS)
    with serving(embedded_url, home, ANALYTICS_NOTEBOOKS=str(notebooks)) as served:
        yield served


def test_a_report_page_loads_only_from_the_app_under_its_policy_and_runs(page, app: Served) -> None:  # type: ignore[no-untyped-def]
    recorded = recording(page)
    response = page.goto(app.base + "voila/render/" + PLASTIC, timeout=90_000)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page.wait_for_selector(".param-partner_id select", timeout=90_000)
    page.click("button:has-text('Run')")
    page.wait_for_selector("a.download-xlsx", timeout=120_000)
    page.wait_for_function("document.fonts.status === 'loaded'")
    icon = page.evaluate("""getComputedStyle(document.querySelector(".widget-button i.fa"), "::before").fontFamily""")
    assert "Font Awesome" in icon
    assert page.evaluate("""[...document.fonts].some((font) => font.family.includes("Font Awesome")
                                                     && font.status === "loaded")""")  # the app's copy
    assert recorded.elsewhere(app.base) == []
    assert violations(page) == [] and recorded.errors == []
    assert any(url.startswith("ws://") for url in recorded.requests)  # the kernel's websocket, to the app


def test_a_scheduled_run_page_loads_only_from_the_app_under_its_policy(page, app: Served, home: Path,  # type: ignore[no-untyped-def]
                                                                       embedded_url: str) -> None:
    settings = load_settings(home=home, db_url=embedded_url, notebooks=REPO / "notebooks")
    folder = home / "reports" / "runs" / "events_check"
    run = run_notebook(REPO / "notebooks" / EVENTS, settings=settings, folder=folder)
    rendered = render_run_page(run.executed, folder / f"{run.run_id}.html")
    assert rendered is not None and "<script" not in rendered.read_text(encoding="utf-8")
    recorded = recording(page)
    response = page.goto(f"{app.base}runs/events_check/{run.run_id}.html")
    assert response.status == 200
    assert page.locator(".run-result").count() == 1  # the run's outcome, as the report showed it
    assert recorded.elsewhere(app.base) == []
    assert violations(page) == [] and recorded.errors == []


def test_our_own_pages_carry_the_policy_too(app: Served, home: Path) -> None:
    run = home / "reports" / "runs" / "events_check" / "0badc0de.html"
    run.parent.mkdir(parents=True, exist_ok=True)
    run.write_text("<html><body>a run</body></html>", encoding="utf-8")
    for path in ("", "runs/events_check/0badc0de.html"):
        with urllib.request.urlopen(app.base + path, timeout=30) as response:
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path


def test_a_link_never_turns_on_alerts_in_the_app(page, app: Served, home: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app.base + "voila/render/" + EVENTS + "?send_alerts=1", timeout=90_000)
    page.wait_for_selector(".link-notice", timeout=90_000)
    assert page.locator(".field-send_alerts").count() == 0  # no field for it in the app
    assert "'send_alerts'" in page.inner_text(".link-notice")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".status.error", timeout=30_000)
    assert "Open the report without 'send_alerts'" in page.inner_text(".status")
    page.goto(app.base + "voila/render/" + EVENTS, timeout=90_000)  # the page as a person opens it runs, and never alerts
    page.wait_for_selector(".param-window_hours input", timeout=90_000)
    page.click("button:has-text('Run')")
    page.wait_for_selector(".run-result", timeout=120_000)
    assert not (home / "reports" / "alerts").exists()


def test_a_kernel_of_the_app_refuses_to_alert_whatever_reached_it(embedded: Database) -> None:
    with pytest.raises(ParameterError, match="only the scheduled runs send alerts"):  # the form's context is in_app
        monitoring(run_context(embedded, in_app=True), send_alerts=True)


def test_a_link_naming_an_unknown_parameter_runs_nothing_until_it_is_fixed(page, app: Served, home: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app.base + "voila/render/" + PLASTIC + "?partner=3", timeout=90_000)
    page.wait_for_selector(".link-notice", timeout=90_000)
    notice = page.inner_text(".link-notice")
    assert "'partner' is not a parameter of this report" in notice and "partner_id" in notice
    assert f"Open the report without 'partner' in its address (/voila/render/{PLASTIC})" in notice
    page.click("button:has-text('Run')")
    page.wait_for_selector(".status.error", timeout=30_000)
    assert "Nothing runs from this link" in page.inner_text(".status")
    assert page.locator(".run-result").count() == 0


def test_the_form_refuses_run_for_a_link_it_does_not_take(tmp_path: Path) -> None:
    parameters = declaration(REPO / "notebooks" / PLASTIC)
    runs: list[dict] = []
    form = ReportForm(parameters, {"partner_id": 3, "csv_delimiter": "comma"}, lambda parameter, values: [("Лента", 3)],
                      lambda raw, progress, cancelled, run_id: runs.append(dict(raw)), load_settings(home=tmp_path))  # type: ignore[arg-type,func-returns-value]
    link = {"partner": "3"}
    values, errors = prefilled(parameters, {"partner_id": 3, "csv_delimiter": "comma"}, link, lambda source: [])
    form.apply(values, errors, link)
    form.run_button.click()
    assert runs == [] and "Nothing runs from this link" in form.status.value
    assert not form.run_button.disabled  # the person can still read the message and leave


def kernel_of(page) -> str:  # type: ignore[no-untyped-def]
    """The id of the kernel a report page talks to (from the page's own configuration)."""
    return json.loads(page.inner_text("#jupyter-config-data"))["kernelId"]


def running_kernels(served: Served) -> set[str]:
    return set(app_kernels(served))


def test_a_short_idle_time_culls_only_kernels_whose_page_is_gone(browser, embedded_url: str,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    notebooks = report_folders(tmp_path / "idle", PLASTIC)
    with serving(embedded_url, tmp_path, ANALYTICS_NOTEBOOKS=str(notebooks), ANALYTICS_KERNEL_IDLE_SECONDS="1") as served:
        context = browser.new_context()
        pages = []
        for _ in range(4):  # in sequence: each visit takes the warm kernel while the next one starts
            page = context.new_page()
            page.goto(served.base + "voila/render/" + PLASTIC, timeout=120_000)
            page.wait_for_selector(".param-partner_id select", timeout=120_000)
            page.click("button:has-text('Run')")
            page.wait_for_selector("a.download-xlsx", timeout=120_000)
            pages.append(page)
        kernels = [kernel_of(page) for page in pages]
        assert len(set(kernels)) == 4 and set(kernels) <= running_kernels(served)
        gone = browser.new_context()
        abandoned = gone.new_page()
        abandoned.goto(served.base + "voila/render/" + PLASTIC, timeout=120_000)
        abandoned.wait_for_selector(".param-partner_id select", timeout=120_000)
        left = kernel_of(abandoned)
        gone.close()  # a killed browser: no shutdown request, the websocket just drops
        wait_until(lambda: left not in running_kernels(served), 60, "a closed browser's kernel was never culled")
        assert set(kernels) <= running_kernels(served)  # quiet for longer than the idle time, but open
        for page in pages:  # each open page still runs
            page.evaluate("document.querySelector('a.download-xlsx').remove()")
            page.click("button:has-text('Run')")
            page.wait_for_selector("a.download-xlsx", timeout=120_000)
        context.close()
