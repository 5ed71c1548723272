"""Audiences end to end on both backends: the funnel and its reasons, the keyed save, kills, re-runs, replacements."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from analytics import Database, load_settings
from analytics.audiences import AudienceRequest, Filters, build_audience, history, saved, why_not
from analytics.audiences.steps import REASON_DUPLICATE, REASON_UNKNOWN, apply_cap, apply_filters, match_cohort
from analytics.audiences.store import EXCLUSIONS_SQL, members_sql
from analytics.errors import CohortError, ServiceError
from analytics.testing.fakes import FakeAmplitude, cohort_csv
from analytics.testing.runs import run_context

from .conftest import REPO


def unique_sub_id(prefix: str = "push") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def users_sample(db: Database, count: int, offset: int = 0) -> pa.Table:
    return db.query_arrow("SELECT user_id, amplitude_id FROM users ORDER BY user_id LIMIT %(n)s OFFSET %(o)s",
                          {"n": count, "o": offset})


@pytest.fixture
def settings(db_url: str, tmp_path: Path, amplitude: FakeAmplitude):  # type: ignore[no-untyped-def]
    return load_settings(db_url=db_url, home=tmp_path, **amplitude.overrides())


def stored_members(db: Database, sub_id: str, version: int | None = None) -> dict[str, list[int]]:
    audience = saved(db, sub_id, version)
    if audience is None:
        return {}
    return {group: db.query_arrow(members_sql(group), audience.bound(group=group)).column("user_id").to_pylist()
            for group in ("target", "control")}


# --- the steps, on columns ----------------------------------------------------------------------------------------

def test_cleaning_maps_ids_and_gives_a_reason_for_everyone_left_out() -> None:
    users = pa.table({"user_id": pa.array([10, 20, 30], pa.uint64()), "amplitude_id": pa.array([100, 200, 300], pa.uint64()),
                      **{name: pa.array(["x"] * 3) for name in ("gender", "os", "device_model", "region", "carrier")},
                      "birth_year": pa.array([1990, 0, 2000], pa.uint16()), "push_enabled": pa.array([1, 1, 0], pa.uint8())})
    cohort = pa.table({"amplitude_id": pa.array([100, 100, 999, 0, 0, 300], pa.uint64()),
                       "user_id": pa.array(["", "", "", "20", "77", ""])})
    funnel = match_cohort(cohort, users)
    assert funnel.column("user_id").tolist() == [10, 20, 30]  # by Amplitude ID, by our user ID, by Amplitude ID
    reasons = funnel.exclusions().to_pylist()
    assert sorted(row["reason"] for row in reasons) == sorted([REASON_DUPLICATE, REASON_UNKNOWN, REASON_UNKNOWN])
    assert {row["amplitude_id"] for row in reasons if row["reason"] == REASON_UNKNOWN} == {999, 0}
    apply_filters(funnel, Filters(age_from=20, age_to=40, push_enabled=True), 2026)
    apply_cap(funnel, np.array([30], np.uint64), 7)
    assert funnel.column("user_id").tolist() == [10]
    assert [step.remaining for step in funnel.steps] == [6, 4, 3, 2, 1, 1]
    assert funnel.kept.num_rows + funnel.exclusions().num_rows == cohort.num_rows  # nobody vanishes


def test_every_cohort_member_is_either_a_recipient_or_left_out_with_a_reason(db: Database, settings,  # type: ignore[no-untyped-def]
                                                                             amplitude: FakeAmplitude) -> None:
    sample = users_sample(db, 1500)
    ids = sample.column("amplitude_id").to_numpy()
    amplitude.cohorts["mix1"] = cohort_csv(np.concatenate([ids, ids[:25], np.array([7, 8, 9], np.uint64)]))
    sub_id = unique_sub_id()
    outcome = build_audience(db, AudienceRequest("mix1", sub_id, Filters(gender="female", push_enabled=True), cap_days=0),
                             settings, save=True, user="anna")
    audience = outcome.saved
    assert audience is not None and audience.cohort_size == 1528 and audience.created_by == "anna"
    reasons = db.query_arrow(EXCLUSIONS_SQL, audience.bound()).to_pylist()
    assert audience.target_size + audience.control_size + len(reasons) == 1528
    counts = {reason: sum(row["reason"] == reason for row in reasons) for reason in {row["reason"] for row in reasons}}
    assert counts[REASON_DUPLICATE] == 25 and counts[REASON_UNKNOWN] == 3
    assert {"filter: gender", "filter: pushes not allowed"} <= set(counts) and any("hold-out" in r for r in counts)
    left_out = next(row for row in reasons if row["reason"] == "filter: gender")
    assert "filter: gender" in why_not(db, sub_id, left_out["user_id"])
    members = stored_members(db, sub_id)
    assert f"{members['control'][0]} is in the control group" in why_not(db, sub_id, members["control"][0])
    assert json.loads(audience.parameters)["gender"] == "female"


def test_the_split_of_a_saved_audience_equals_the_sql_hash(db: Database, settings) -> None:  # type: ignore[no-untyped-def]
    sample = users_sample(db, 2000)
    settings_amplitude = settings
    cohort = "split1"
    amplitude_fake = _fake_of(settings_amplitude)
    amplitude_fake.cohorts[cohort] = cohort_csv(sample.column("amplitude_id").to_numpy())
    sub_id = unique_sub_id()
    audience = build_audience(db, AudienceRequest(cohort, sub_id, cap_days=0, control_percent=20), settings,
                              save=True).saved
    assert audience is not None
    sql = ("SELECT countIf((modulo(murmurHash3_32(bitXor(user_id, toUInt64(%(salt)s))), 10000) < 2000) != "
           "(`group` = 'control')) FROM audience_recipients WHERE sub_id = %(sub_id)s AND write_id = %(write_id)s")
    assert db.scalar(sql, {**audience.bound(), "salt": audience.salt}) == 0


def test_a_second_run_writes_nothing_and_a_replacement_keeps_the_first_version(db: Database, settings,  # type: ignore[no-untyped-def]
                                                                               amplitude: FakeAmplitude) -> None:
    amplitude.cohorts["again1"] = cohort_csv(users_sample(db, 800).column("amplitude_id").to_numpy())
    sub_id = unique_sub_id()
    request = AudienceRequest("again1", sub_id, cap_days=0)
    first = build_audience(db, request, settings, save=True, user="anna")
    rows_after_first = db.scalar("SELECT count() FROM audience_recipients")
    calls = len(amplitude.requests)
    second = build_audience(db, request, settings, save=True, user="boris")
    assert second.reused and second.saved == first.saved
    assert db.scalar("SELECT count() FROM audience_recipients") == rows_after_first
    assert len(amplitude.requests) == calls  # a stored sub_id is shown without asking Amplitude again
    amplitude.cohorts["again1"] = cohort_csv(users_sample(db, 500, offset=300).column("amplitude_id").to_numpy())
    (settings.reports_dir / "cohorts").rename(settings.home / "old-cohorts")  # the marketer's cohort changed
    replaced = build_audience(db, request, settings, save=True, replace_saved=True, user="boris")
    assert replaced.saved is not None and replaced.saved.version == 2 and not replaced.reused
    assert [audience.version for audience in history(db, sub_id)] == [1, 2]
    old, new = stored_members(db, sub_id, 1), stored_members(db, sub_id, 2)
    assert len(old["target"]) + len(old["control"]) == first.saved.target_size + first.saved.control_size
    assert old != new and saved(db, sub_id).version == 2
    both = set(old["control"] + old["target"]) & set(new["control"] + new["target"])
    assert all((user in old["control"]) == (user in new["control"]) for user in both)  # the salt keeps the split


def test_the_frequency_cap_leaves_out_another_audiences_target_group(db: Database, settings,  # type: ignore[no-untyped-def]
                                                                     amplitude: FakeAmplitude) -> None:
    amplitude.cohorts["cap1"] = cohort_csv(users_sample(db, 400, offset=2000).column("amplitude_id").to_numpy())
    first = build_audience(db, AudienceRequest("cap1", unique_sub_id(), cap_days=0), settings, save=True).saved
    assert first is not None
    preview = build_audience(db, AudienceRequest("cap1", unique_sub_id(), cap_days=3), settings)
    assert preview.saved is None and preview.plan is not None
    cap = next(step for step in preview.steps if step.label.startswith("Not messaged"))
    assert cap.left_out >= first.target_size  # the first audience's target group (and recent pushes, if any)


def test_a_preview_writes_nothing(db: Database, settings, amplitude: FakeAmplitude) -> None:  # type: ignore[no-untyped-def]
    amplitude.cohorts["look1"] = cohort_csv(users_sample(db, 300).column("amplitude_id").to_numpy())
    sub_id = unique_sub_id()
    outcome = build_audience(db, AudienceRequest("look1", sub_id, cap_days=0), settings)
    assert outcome.saved is None and outcome.steps[-1].label.startswith("Control group")
    assert saved(db, sub_id) is None


@pytest.mark.parametrize(("setup", "words"), [
    ({"fail_status": 401}, "did not accept the API key"), ({"cohort": "missing1"}, "has no cohort"),
    ({"never_ready": True}, "has not finished preparing"), ({"empty": True}, "is empty"),
])
def test_amplitude_refusals_write_nothing(db: Database, settings, amplitude: FakeAmplitude, setup: dict,  # type: ignore[no-untyped-def]
                                          words: str) -> None:
    amplitude.cohorts["fail1"] = cohort_csv(np.array([], np.uint64)) if setup.get("empty") else cohort_csv(
        users_sample(db, 50).column("amplitude_id").to_numpy())
    amplitude.fail_status = setup.get("fail_status")
    amplitude.never_ready = bool(setup.get("never_ready"))
    settings = load_settings(db_url=settings.db_url, home=settings.home,
                             **{**amplitude.overrides(), "amplitude_wait_seconds": 0.3})
    sub_id = unique_sub_id()
    with pytest.raises((ServiceError, CohortError), match=words):
        build_audience(db, AudienceRequest(setup.get("cohort", "fail1"), sub_id), settings, save=True)
    assert saved(db, sub_id) is None


def test_429_twice_then_not_ready_then_the_file_saves_the_audience(db: Database, settings,  # type: ignore[no-untyped-def]
                                                                   amplitude: FakeAmplitude) -> None:
    amplitude.cohorts["slow1"] = cohort_csv(users_sample(db, 200).column("amplitude_id").to_numpy())
    amplitude.throttle, amplitude.polls_before_ready = 2, 5
    sub_id = unique_sub_id()
    outcome = build_audience(db, AudienceRequest("slow1", sub_id, cap_days=0), settings, save=True)
    assert outcome.saved is not None and saved(db, sub_id) == outcome.saved
    assert [request.status for request in amplitude.requests[:3]] == [429, 429, 202]


# --- kills ---------------------------------------------------------------------------------------------------------

CHILD = """
import os, signal, sys
import numpy as np
from analytics import connect, load_settings
from analytics.audiences import AudienceRequest, build_audience
from analytics.audiences import pipeline
from analytics.testing.fakes import FakeAmplitude, cohort_csv

db_url, home, sub_id, moment = sys.argv[1:5]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
with connect(db_url) as db, FakeAmplitude() as fake:
    ids = db.query_arrow("SELECT amplitude_id FROM users ORDER BY user_id LIMIT 3000").column(0).to_numpy()
    fake.cohorts["kill1"] = cohort_csv(ids)
    settings = load_settings(db_url=db_url, home=home, **fake.overrides())
    if moment == "after_split":
        split = pipeline.split
        pipeline.split = lambda *args: (split(*args), die())[0]
    build_audience(db, AudienceRequest("kill1", sub_id, cap_days=0), settings, save=True,
                   before_commit=die if moment == "before_commit" else None)
print("finished")
"""


@pytest.mark.parametrize("moment", ["after_split", "before_commit"])
def test_a_run_killed_between_split_and_save_leaves_nothing_and_the_rerun_saves_once(
        db: Database, db_url: str, settings, tmp_path: Path, moment: str) -> None:  # type: ignore[no-untyped-def]
    sub_id = unique_sub_id()
    child = subprocess.run([sys.executable, "-c", CHILD, db_url, str(tmp_path / "child"), sub_id, moment],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO / "lib")})
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    assert saved(db, sub_id) is None and history(db, sub_id) == []
    assert stored_members(db, sub_id) == {}
    fake = _fake_of(settings)
    fake.cohorts["kill1"] = cohort_csv(users_sample(db, 3000).column("amplitude_id").to_numpy())
    rerun = build_audience(db, AudienceRequest("kill1", sub_id, cap_days=0), settings, save=True)
    assert rerun.saved is not None and rerun.saved.version == 1
    members = stored_members(db, sub_id)
    assert len(members["target"]) + len(members["control"]) == rerun.saved.target_size + rerun.saved.control_size
    assert len(set(members["target"])) == len(members["target"])  # one copy, whatever the killed run had written


def _fake_of(settings) -> FakeAmplitude:  # type: ignore[no-untyped-def]
    """The fixture's fake behind these settings (the test's ``amplitude``)."""
    return next(fake for fake in _RUNNING if fake.url == settings.amplitude_url)


_RUNNING: list[FakeAmplitude] = []


@pytest.fixture(autouse=True)
def _remember(amplitude: FakeAmplitude) -> None:
    _RUNNING[:] = [amplitude]


# --- hostile input, in the form's pipeline and headless ------------------------------------------------------------

PUSH_NOTEBOOK = REPO / "notebooks" / "marketing" / "push_audience.ipynb"
HOSTILE = ["1'; DROP TABLE audiences; --", "../../etc/passwd", "..", "a" * 10_000, "когорта", "abc\x00def",
           "abc\r\ndef", "%2e%2e%2f", "<script>x</script>", " "]


VALID_SUB_IDS = (" ", "когорта")  # empty suggests one; Cyrillic is stored as itself (test below)
HOSTILE_FIELDS = [(field, value) for field in ("cohort_id", "sub_id") for value in HOSTILE
                  if not (field == "sub_id" and value in VALID_SUB_IDS)]


@pytest.mark.parametrize(("field", "value"), HOSTILE_FIELDS, ids=[f"{f}-{i}" for i, (f, _) in enumerate(HOSTILE_FIELDS)])
def test_hostile_cohort_ids_and_sub_ids_are_refused_beside_their_field(db: Database, settings, amplitude: FakeAmplitude,  # type: ignore[no-untyped-def]
                                                                       field: str, value: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics.params import FormInvalid, declaration
    from analytics.pipeline import run_report
    from analytics.reports import push_audience

    amplitude.cohorts["good1"] = cohort_csv(users_sample(db, 50).column("amplitude_id").to_numpy())
    given = {"cohort_id": "good1", "sub_id": unique_sub_id(), "save": True, "cap_days": 0, field: value}
    for name, setting in {**amplitude.settings(), "ANALYTICS_HOME": str(settings.home)}.items():
        monkeypatch.setenv(name, setting)  # what the report's kernel reads
    rows_before = db.scalar("SELECT count() FROM audiences") if "audiences" in db.tables() else 0
    with pytest.raises(FormInvalid) as refused:
        run_report(push_audience, declaration(PUSH_NOTEBOOK), given, run_context(db, settings))
    assert list(refused.value.errors) == [field] and "Traceback" not in str(refused.value)
    assert (db.scalar("SELECT count() FROM audiences") if "audiences" in db.tables() else 0) == rows_before
    assert amplitude.requests == []  # refused before Amplitude is asked


def test_a_cyrillic_sub_id_is_stored_and_read_back_as_itself(db: Database, settings, amplitude: FakeAmplitude) -> None:  # type: ignore[no-untyped-def]
    amplitude.cohorts["ru1"] = cohort_csv(users_sample(db, 100).column("amplitude_id").to_numpy())
    sub_id = f"акция_ёлка_{uuid.uuid4().hex[:6]}"
    outcome = build_audience(db, AudienceRequest("ru1", sub_id, cap_days=0), settings, save=True)
    assert outcome.saved is not None and saved(db, sub_id) == outcome.saved and outcome.saved.sub_id == sub_id


def test_a_hostile_cohort_id_headless_is_a_plain_message(embedded_url: str, tmp_path: Path,
                                                         amplitude: FakeAmplitude) -> None:
    from analytics.runner import NotebookFailed, run_notebook

    settings = load_settings(db_url=embedded_url, home=tmp_path, **amplitude.overrides())
    for value in ("1'; DROP TABLE users; --", "когорта"):
        with pytest.raises(NotebookFailed) as failed:
            run_notebook(PUSH_NOTEBOOK, {"cohort_id": value, "save": True}, settings=settings)
        assert "cohort_id" in str(failed.value) and "Traceback" not in str(failed.value)
    assert amplitude.requests == []


def test_the_form_hears_what_the_long_steps_are_doing(db: Database, settings, amplitude: FakeAmplitude,  # type: ignore[no-untyped-def]
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics.params import declaration
    from analytics.pipeline import run_report
    from analytics.reports import push_audience

    for name, setting in {**amplitude.settings(), "ANALYTICS_HOME": str(settings.home)}.items():
        monkeypatch.setenv(name, setting)  # what the report's kernel reads
    amplitude.cohorts["words1"] = cohort_csv(users_sample(db, 100).column("amplitude_id").to_numpy())
    amplitude.polls_before_ready = 2
    said: list[str] = []
    outcome = run_report(push_audience, declaration(PUSH_NOTEBOOK), {"cohort_id": "words1", "cap_days": 0},
                         run_context(db, settings, status=said.append))
    assert outcome.query.effective["sub_id"].startswith("push_words1_")
    assert said[0] == "Asking Amplitude for cohort words1…"
    assert any("is preparing cohort words1" in text for text in said) and any("Cleaning" in text for text in said)


def test_the_demo_app_answers_demo_cohorts_in_amplitudes_protocol(embedded: Database, embedded_url: str,
                                                                  tmp_path: Path) -> None:
    from analytics.testing.fakes.amplitude import start_demo_amplitude

    environ: dict[str, str] = {}
    fake = start_demo_amplitude(embedded_url, environ)
    assert fake is not None
    try:
        assert {"demo_ios", "demo_moscow", "demo_new", "demo_sample"} <= set(fake.cohorts)
        settings = load_settings(environ={**environ, "ANALYTICS_HOME": str(tmp_path), "ANALYTICS_DB_URL": embedded_url})
        outcome = build_audience(embedded, AudienceRequest("demo_ios", unique_sub_id(), cap_days=0), settings)
        assert outcome.plan is not None and outcome.steps[1].left_out == 3  # the three IDs only Amplitude knows
        assert outcome.steps[2].left_out == 5  # and the five repeated ones
    finally:
        fake.__exit__(None, None, None)
