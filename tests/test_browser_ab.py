"""The A/B summary's refusals on the page, in a real headless Chromium against a real `analytics serve`: an
experiment whose variants are A and B is refused beside the Control variant field with the names found, and runs
once the names are typed; a target every user did says "no variation to compare"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .conftest import report_folders, running_app
from .test_ab_summary import REFUSED, edge_url  # noqa: F401 - the store with the edge experiments, a fixture


@pytest.fixture(scope="module")
def app(edge_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: F811
    notebooks = report_folders(tmp_path_factory.mktemp("browser_ab"), "analysts/ab_summary.ipynb")
    with running_app(edge_url, tmp_path_factory.mktemp("home_ab"), ANALYTICS_NOTEBOOKS=str(notebooks)) as base:
        yield base


def open_ab_summary(page, app: str, experiment: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(app)
    page.click("text=A/B test summary")
    page.wait_for_selector(".param-experiment select", timeout=60_000)
    page.select_option(".param-experiment select", label=experiment)


def test_variants_a_and_b_are_named_beside_the_field_then_run_once_typed(page, app: str) -> None:  # type: ignore[no-untyped-def]
    open_ab_summary(page, app, "letters")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".field-control_variant .field-error", timeout=120_000)
    assert page.inner_text(".field-control_variant .field-error").startswith(REFUSED["letters"][1])
    assert "nothing was run" in page.inner_text(".status")
    assert page.locator(".run-result").count() == 0 and "Error" not in page.inner_text(".status")

    page.fill(".param-control_variant input", "A")
    page.fill(".param-test_variant input", "B")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".run-result", timeout=120_000)
    assert page.locator(".field-error").count() == 0
    result = page.inner_text(".run-result")
    assert "App activity:" in result and "(control: 'A', test: 'B')" in result


def test_a_target_every_user_did_says_no_variation_on_the_page(page, app: str) -> None:  # type: ignore[no-untyped-def]
    open_ab_summary(page, app, "everyone_opens")
    page.select_option(".param-target_event select", label="app_open")
    page.click("button:has-text('Run')")
    page.wait_for_selector(".run-result", timeout=120_000)
    assert ("Target: app_open: no variation to compare: every user in both groups did app_open."
            in page.inner_text(".run-result"))

