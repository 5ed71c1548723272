"""The home page's parts without a browser: the stored tiles (atomic, owner-only, a corrupt file skipped with a
log line), the freshness rules, the headlines against the reports' own rows, and the tiles a person is shown."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from analytics import Database, load_settings
from analytics.audit import AuditEvent, audit
from analytics.catalog import report_catalog
from analytics.context import RunContext
from analytics.home.freshness import judge
from analytics.home.store import StoredTile, read_tile, read_tiles, remember_run, write_tile
from analytics.home.tiles import comparison, figure, home_tiles, search, sparkline
from analytics.render import RUN_RECORD_MIME
from analytics.reports import audit_trail, plastic_cards
from analytics.results import Headline
from analytics.scheduler.jobs import JobRun, exclusive, job_folder
from analytics.scheduler.schedules import load_schedule

REPO = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 12, 6, 9, 0)
DAY = dt.timedelta(days=1)
HEADLINE = Headline("Plastic cards of Пятёрочка issued on 05.12.2026", 12.0, compared_label="same weekday last week",
                    compared_value=10.0, trend=((dt.date(2026, 12, 4), 3.0), (dt.date(2026, 12, 5), 12.0)),
                    data_until=dt.date(2026, 12, 5))


def tile(job: str = "plastic_cards_daily", headline: Headline | None = HEADLINE, **fields: object) -> StoredTile:
    values = {"notebook": "account_managers/plastic_cards.ipynb", "status": "ran", "finished_at": NOW - dt.timedelta(hours=2),
              "refreshed_at": NOW - dt.timedelta(hours=2), "run_id": "r1", "headline": headline, **fields}
    return StoredTile(job, **values)  # type: ignore[arg-type]


def test_a_stored_tile_round_trips_owner_only_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = write_tile(tmp_path / "tiles", tile())
    assert read_tile(tmp_path / "tiles", "plastic_cards_daily") == tile()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["plastic_cards_daily.json"]


def test_a_write_in_progress_is_not_read_and_a_corrupt_tile_is_skipped_with_a_log_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "tiles"
    write_tile(folder, tile())
    (folder / ".tmp-1-ab-audit_trail_hourly.json").write_text('{"job": "audit', encoding="utf-8")  # half written
    (folder / "past_audiences_hourly.json").write_text('{"job": "past_aud', encoding="utf-8")  # a crash, a hand edit
    with caplog.at_level(logging.WARNING, logger="analytics.home.store"):
        assert list(read_tiles(folder)) == ["plastic_cards_daily"]
    [line] = caplog.messages
    assert "past_audiences_hourly.json cannot be read and is skipped" in line and "writes it again" in line


def executed_with(tmp_path: Path, headline: Headline | None) -> Path:
    """An executed notebook carrying a run record, as the report page displays it."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("report_page(...)", outputs=[
        nbformat.v4.new_output("display_data", data={RUN_RECORD_MIME: {
            "rows": 12, "files": [], "headline": headline.as_json() if headline else None}})])])
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    return path


def test_a_run_stores_its_headline_and_a_failed_run_keeps_the_last_one(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, notebooks=REPO / "notebooks")
    schedule = load_schedule(REPO / "schedules" / "plastic_cards_daily.yaml", REPO / "notebooks")
    ran = JobRun("r1", schedule.job, NOW, NOW, NOW, "ran", notebook=str(executed_with(tmp_path, HEADLINE)))
    remember_run(settings, schedule, ran)
    stored = read_tile(settings.reports_dir / "tiles", schedule.job)
    assert stored is not None and stored.headline == HEADLINE and stored.refreshed_at == NOW
    assert stored.notebook == "account_managers/plastic_cards.ipynb"

    later = NOW + DAY
    remember_run(settings, schedule, JobRun("r2", schedule.job, later, later, later, "failed", error="the database is down"))
    stored = read_tile(settings.reports_dir / "tiles", schedule.job)
    assert stored is not None and stored.status == "failed" and stored.error == "the database is down"
    assert stored.headline == HEADLINE and stored.refreshed_at == NOW and stored.run_id == "r1"


def test_remember_run_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(home=tmp_path, notebooks=REPO / "notebooks")
    schedule = load_schedule(REPO / "schedules" / "plastic_cards_daily.yaml", REPO / "notebooks")
    (settings.reports_dir).mkdir(parents=True)
    (settings.reports_dir / "tiles").write_text("a file where the folder should be", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="analytics.home.store"):
        remember_run(settings, schedule, JobRun("r1", schedule.job, NOW, NOW, NOW, "ran",
                                                notebook=str(executed_with(tmp_path, HEADLINE))))
    assert "its home-page tile was not stored" in caplog.text


ALLOWED = 2 * DAY  # a daily job: one period and a grace of one period


@pytest.mark.parametrize(("data_until", "refreshed_at", "late", "words"), [
    (dt.date(2026, 12, 5), NOW - dt.timedelta(hours=2), False, "Data until 05.12.2026, refreshed"),
    (dt.date(2026, 12, 4), NOW - dt.timedelta(hours=2), False, "Data until 04.12.2026"),  # until 05.12 00:00 + 2 days
    (dt.date(2026, 12, 3), NOW - dt.timedelta(hours=2), True, "No new data since 03.12.2026"),
    (dt.datetime(2026, 12, 4, 8, 0), NOW - dt.timedelta(hours=2), True, "No new data since 04.12.2026"),
    (dt.date(2026, 12, 5), NOW - 3 * DAY, True, "Not refreshed since 03.12.2026"),
    (None, NOW - dt.timedelta(hours=2), False, "refreshed"),
    (None, NOW - 3 * DAY, True, "Not refreshed since 03.12.2026"),
])
def test_a_tile_is_late_when_its_data_or_its_refresh_is_older_than_a_period_and_the_grace(
        data_until: dt.date | dt.datetime | None, refreshed_at: dt.datetime, late: bool, words: str) -> None:
    judged = judge(data_until, refreshed_at, ALLOWED, NOW)
    assert judged.late is late and judged.words.startswith(words)


def test_figures_read_as_words_not_as_python() -> None:
    assert figure(12345.0, "") == "12,345" and figure(None, "") == "" and figure(0.0312, "%") == "+3.1%"
    assert figure(-0.182, "%") == "\u221218.2%" and figure(2.5e-7, "%") == "+0.0%"
    assert comparison(HEADLINE) == "+20% vs 10 same weekday last week"
    assert comparison(Headline("x", 3.0, compared_label="last week", compared_value=0.0)) == "vs 0 last week"
    svg = sparkline(HEADLINE.trend)
    assert svg.startswith("<svg class='sparkline'") and "<script" not in svg and "Trend from 04.12.2026 to 05.12.2026" in svg
    assert sparkline(()) == ""


def run_context(db: Database, tmp_path: Path) -> RunContext:
    return RunContext(load_settings(home=tmp_path), db, "tester", "t1")


def test_the_cards_headline_is_the_row_count_of_the_report_for_its_day(db: Database, tmp_path: Path) -> None:
    ctx = run_context(db, tmp_path)
    query = plastic_cards(ctx)
    headline = query.headline
    assert headline is not None and isinstance(headline.data_until, dt.date)
    day = headline.data_until
    assert day == query.effective["end"] and len(headline.trend) == 28 and headline.trend[-1][0] == day
    for shown in (day, day - dt.timedelta(days=7)):
        that_day = plastic_cards(ctx, start=shown, end=shown)
        rows = db.query_arrow(that_day.sql, that_day.params).num_rows
        expected = headline.value if shown == day else headline.compared_value
        assert rows == expected, shown


def test_the_activity_headline_counts_the_exports_the_audit_report_lists(db: Database, db_url: str,
                                                                         tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, db_url=db_url)
    for _ in range(3):
        audit(AuditEvent("export", file="x.csv", user="home-test"), settings)
    audit(AuditEvent("sign_in", user="home-test"), settings)
    query = audit_trail(run_context(db, tmp_path))
    headline = query.headline
    assert headline is not None and headline.value is not None and headline.value >= 3
    day = query.effective["end"]
    listed = audit_trail(run_context(db, tmp_path), start=day, end=day, action="export")
    assert db.query_arrow(listed.sql, listed.params).num_rows == headline.value
    assert "sign-in" in headline.text and headline.label == ("Exports today" if day == dt.date.today()
                                                             else f"Exports on {day:%d.%m.%Y}")


def write_schedule(folder: Path, job: str, notebook: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{job}.yaml").write_text(f"job: {job}\nnotebook: {notebook}\ncron: '20 7 * * *'\n"
                                        "timezone: Europe/Moscow\n", encoding="utf-8")


def test_a_person_sees_the_tiles_of_their_groups_and_a_pending_one_says_when_it_comes(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, notebooks=REPO / "notebooks", schedules=tmp_path / "schedules")
    write_schedule(settings.schedules, "plastic_cards_daily", "account_managers/plastic_cards.ipynb")
    write_schedule(settings.schedules, "past_audiences_daily", "marketing/past_audiences.ipynb")
    write_tile(settings.reports_dir / "tiles", tile(refreshed_at=NOW, finished_at=NOW))
    catalog = report_catalog(settings.notebooks)
    visible = [entry for entry in catalog if entry.path.startswith("account_managers/")]
    [group] = home_tiles(settings, visible, "/", now=NOW)
    assert group.audience == "Account managers" and [t.job for t in group.tiles] == ["plastic_cards_daily"]
    [cards] = group.tiles
    assert cards.figure == "12" and not cards.late and not cards.pending
    assert cards.url == "/voila/render/account_managers/plastic_cards.ipynb?start=2026-12-05&end=2026-12-05"

    marketing = [entry for entry in catalog if entry.path.startswith("marketing/")]
    [group] = home_tiles(settings, marketing, "/", now=NOW)
    [pending] = group.tiles
    assert pending.pending and pending.freshness == "Not computed yet — refreshed tomorrow at 07:20 (Moscow time)"


def test_the_on_call_tile_counts_open_episodes_and_failed_jobs_from_files(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, notebooks=REPO / "notebooks", schedules=tmp_path / "schedules")
    episodes = settings.reports_dir / "alerts" / "episodes"
    episodes.mkdir(parents=True)
    (episodes / "events_monitoring.json").write_text(json.dumps({"events": {
        "a": {"title": "Errors 500 rose +300%"}, "b": {"title": "Quiet now", "quiet_since": NOW.isoformat()}}}))
    write_tile(settings.reports_dir / "tiles", tile("events_monitoring", None, status="failed"))
    monitoring = [entry for entry in report_catalog(settings.notebooks) if entry.path.startswith("monitoring/")]
    [group] = home_tiles(settings, monitoring, "/", now=NOW)
    [on_call] = group.tiles
    assert on_call.figure == "1" and "Errors 500 rose +300%" in on_call.text and "Quiet now" not in on_call.text
    assert "1 job failed on the last run: events_monitoring." in on_call.text


def test_search_finds_a_report_by_any_word_of_its_description() -> None:
    catalog = report_catalog(REPO / "notebooks")
    assert [entry.title for entry in search(catalog, "BARCODES")] == ["Plastic cards issued"]
    assert {entry.title for entry in search(catalog, "cohort control")} == {"Push audience", "Retargeting audience"}
    assert search(catalog, "") == catalog and search(catalog, "zzzz") == []
    assert not re.search(r"None|True|e-0\d", " ".join(entry.description for entry in catalog))


def test_a_tile_whose_job_is_running_says_it_is_being_computed(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, notebooks=REPO / "notebooks", schedules=tmp_path / "schedules")
    write_schedule(settings.schedules, "plastic_cards_daily", "account_managers/plastic_cards.ipynb")
    visible = [entry for entry in report_catalog(settings.notebooks) if entry.path.startswith("account_managers/")]
    with exclusive(job_folder(settings, "plastic_cards_daily")) as lock:  # the lock a running job holds
        assert lock is not None
        [group] = home_tiles(settings, visible, "/", now=NOW)
        assert group.tiles[0].freshness == "Not computed yet — being computed now: reload the page in a minute"
    [group] = home_tiles(settings, visible, "/", now=NOW)
    assert group.tiles[0].freshness.startswith("Not computed yet — refreshed tomorrow at")


def test_analytics_tiles_lists_them_and_refresh_missing_runs_nothing_when_all_are_stored(tmp_path: Path) -> None:
    schedules = tmp_path / "schedules"
    write_schedule(schedules, "plastic_cards_daily", "account_managers/plastic_cards.ipynb")
    write_schedule(schedules, "past_audiences_daily", "marketing/past_audiences.ipynb")
    environment = {**os.environ, "ANALYTICS_HOME": str(tmp_path), "ANALYTICS_SCHEDULES": str(schedules),
                   "ANALYTICS_NOTEBOOKS": str(REPO / "notebooks")}

    def tiles(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "analytics.cli", "tiles", *options], env=environment,
                              capture_output=True, text=True, timeout=120)

    listed = tiles()
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == ["past_audiences_daily\tnot computed yet", "plastic_cards_daily\tnot computed yet"]
    write_tile(tmp_path / "reports" / "tiles", tile())
    write_tile(tmp_path / "reports" / "tiles", tile("past_audiences_daily", notebook="marketing/past_audiences.ipynb"))
    assert tiles().stdout.splitlines()[1] == f"plastic_cards_daily\t{HEADLINE.label}"
    refreshed = tiles("--refresh", "--missing")
    assert refreshed.returncode == 0 and "every tile is stored already" in refreshed.stderr
    assert not (tmp_path / "reports" / "runs").exists()  # no job ran


def test_a_fresh_install_runs_its_monitoring_jobs_once_so_the_on_call_tile_has_their_state(tmp_path: Path) -> None:
    from analytics.home.refresh import monitoring_without_state

    settings = load_settings(home=tmp_path, notebooks=REPO / "notebooks", schedules=REPO / "schedules")
    never_ran = [schedule.job for schedule in monitoring_without_state(settings)]
    assert "events_monitoring" in never_ran and all("monitoring" in job for job in never_ran)
    state = settings.reports_dir / "alerts" / "episodes" / "events_monitoring.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"no new data": {"events": {"title": "No new data from events since 15.11.2026"}}}))
    assert "events_monitoring" not in [schedule.job for schedule in monitoring_without_state(settings)]
