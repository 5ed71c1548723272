"""Schedules: cron in the job's own time zone across DST changes, and YAML files checked with plain messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from analytics.scheduler import due_between, load_schedules, next_run
from analytics.scheduler.schedules import ScheduleError

from .conftest import REPO

UTC = dt.UTC


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "day"), [("Europe/Berlin", (2026, 3, 29)), ("Europe/Berlin", (2026, 10, 25)),
                                           ("America/New_York", (2026, 3, 8)), ("America/New_York", (2026, 11, 1))])
def test_a_daily_job_at_0230_runs_exactly_once_on_the_days_the_clocks_change(zone: str, day: tuple[int, int, int]) -> None:
    start = dt.datetime(*day, tzinfo=UTC) - dt.timedelta(days=1)
    runs = due_between("30 2 * * *", zone, start, start + dt.timedelta(days=3))
    local_days = [run.astimezone(ZoneInfo(zone)).date() for run in runs]
    assert len(runs) == 3 and len(set(local_days)) == 3  # one run on each of the three days, none twice


def test_skipped_and_repeated_times_of_a_fixed_hour_job() -> None:
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12)) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert next_run("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12)) == utc(2026, 10, 25, 0, 30)  # the first 02:30


@pytest.mark.parametrize("day", [(2026, 3, 28), (2026, 10, 24)])
def test_an_hourly_job_follows_real_time_through_the_changes(day: tuple[int, int, int]) -> None:
    start = utc(*day, 20)
    runs = due_between("0 * * * *", "Europe/Berlin", start, start + dt.timedelta(hours=10))
    assert runs == [start + dt.timedelta(hours=hour) for hour in range(1, 11)]  # every real hour, once


def test_next_run_is_strictly_after_and_in_the_jobs_time_zone() -> None:
    assert next_run("5 9 * * 1-5", "Europe/Moscow", utc(2026, 12, 4, 6, 5)) == utc(2026, 12, 7, 6, 5)  # Fri → Mon
    assert next_run("*/15 * * * *", "UTC", utc(2026, 12, 1, 10, 15)) == utc(2026, 12, 1, 10, 30)


NOTEBOOK = "account_managers/plastic_cards.ipynb"


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_a_good_schedule_loads(tmp_path: Path) -> None:
    write(tmp_path, "cards.yaml", f"job: weekly_cards\nnotebook: {NOTEBOOK}\ncron: '0 8 * * 1'\n"
                                  "timezone: Europe/Moscow\nparameters: {partner_id: 3, start: '2026-09-01'}\n")
    [schedule] = load_schedules(tmp_path, REPO / "notebooks")
    assert schedule.job == "weekly_cards" and schedule.retries == 0 and schedule.alert == "slack"
    assert schedule.parameters == {"partner_id": 3, "start": "2026-09-01"}


@pytest.mark.parametrize(("text", "message"), [
    ("cron: '61 * * * *'", "cron: '61 * * * *' is not a cron expression"),
    ("cron: 'every day'", "is not a cron expression"),
    ("timezone: Mars/Olympus", "'Mars/Olympus' is not an IANA time zone"),
    ("notebook: nowhere/missing.ipynb", "there is no notebook 'nowhere/missing.ipynb'"),
    ("notebook: ../../etc/passwd", "there is no notebook '../../etc/passwd'"),
    ("parameters: {partner: 3}", "parameters: partner:"),
    ("parameters: {start: '2026-02-30'}", "parameters: start:"),
    ("parameters: {start: 2026-13-01}", "parameters: start: is not a day of the calendar"),  # unquoted: not YAML's date
    ("parameters: {start: !!timestamp 2026-13-01}", "not valid YAML (month must be in 1..12)"),
    ("alert: email", "alert: one of slack, file, none"),
    ("retries: -1", "retries: a number of zero or more"),
    ("colour: blue", "colour: unknown field"),
])
def test_a_wrong_schedule_is_refused_naming_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    fields = {"job": "j1", "notebook": NOTEBOOK, "cron": "'0 8 * * 1'", "timezone": "UTC"}
    key = text.split(":", 1)[0]
    lines = [f"{name}: {value}" for name, value in fields.items() if name != key] + [text]
    write(tmp_path, "broken.yaml", "\n".join(lines) + "\n")
    with pytest.raises(ScheduleError) as refused:
        load_schedules(tmp_path, REPO / "notebooks")
    assert any(problem.startswith("broken.yaml: ") and message in problem for problem in refused.value.problems), \
        refused.value.problems


def test_an_unquoted_day_is_text_the_form_reads(tmp_path: Path) -> None:
    write(tmp_path, "cards.yaml", f"job: weekly_cards\nnotebook: {NOTEBOOK}\ncron: '0 8 * * 1'\n"
                                  "timezone: UTC\nparameters: {partner_id: 3, start: 2026-09-01}\n")
    [schedule] = load_schedules(tmp_path, REPO / "notebooks")
    assert schedule.parameters == {"partner_id": 3, "start": "2026-09-01"}


def test_two_jobs_with_one_name_and_bad_yaml_are_all_reported(tmp_path: Path) -> None:
    body = f"job: same\nnotebook: {NOTEBOOK}\ncron: '0 8 * * *'\ntimezone: UTC\n"
    write(tmp_path, "a.yaml", body)
    write(tmp_path, "b.yaml", body)
    write(tmp_path, "c.yaml", "job: [unclosed\n")
    with pytest.raises(ScheduleError) as refused:
        load_schedules(tmp_path, REPO / "notebooks")
    text = str(refused.value)
    assert "c.yaml: not valid YAML" in text and "b.yaml: job: the name 'same' is also used by a.yaml" in text


def test_analytics_jobs_lists_next_runs_and_names_a_wrong_file(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    write(tmp_path / "good", "cards.yaml", f"job: weekly_cards\nnotebook: {NOTEBOOK}\ncron: '0 8 * * 1'\n"
                                           "timezone: Europe/Moscow\n")
    environment = {**os.environ, "ANALYTICS_SCHEDULES": str(tmp_path / "good"), "ANALYTICS_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "analytics.cli", "jobs"], capture_output=True, text=True,
                          env=environment, check=True)
    job, cron, upcoming, last, notebook = done.stdout.strip().split("\t")
    assert (job, cron, last, notebook) == ("weekly_cards", "0 8 * * 1 (Europe/Moscow)", "never ran", NOTEBOOK)
    assert upcoming.startswith("next ") and upcoming.endswith("08:00 MSK")
    write(tmp_path / "bad", "x.yaml", f"job: x\nnotebook: {NOTEBOOK}\ncron: '0 25 * * *'\ntimezone: UTC\n")
    failed = subprocess.run([sys.executable, "-m", "analytics.cli", "jobs"], capture_output=True, text=True,
                            env={**environment, "ANALYTICS_SCHEDULES": str(tmp_path / "bad")}, check=False)
    assert failed.returncode == 1 and "x.yaml: cron: '0 25 * * *' is not a cron expression" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_analytics_jobs_names_the_file_and_field_of_a_day_that_does_not_exist(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    write(tmp_path / "schedules", "cards.yaml", f"job: weekly_cards\nnotebook: {NOTEBOOK}\ncron: '0 8 * * 1'\n"
                                                "timezone: UTC\nparameters: {start: 2026-13-01}\n")
    environment = {**os.environ, "ANALYTICS_SCHEDULES": str(tmp_path / "schedules"), "ANALYTICS_HOME": str(tmp_path)}
    failed = subprocess.run([sys.executable, "-m", "analytics.cli", "jobs"], capture_output=True, text=True,
                            env=environment, check=False, timeout=120)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1] == ("- cards.yaml: parameters: start: is not a day of the calendar "
                                                      "(check the month and the day)")
