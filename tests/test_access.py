"""Users file, report groups, the gate's rules, the read-only account, the audit trail and retention."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analytics import connect, load_settings
from analytics.access import Person, UserError, UsersFile, allowed_groups, may_open, user_folder
from analytics.audit import AUDIT_TABLE, AuditEvent, AuditLog
from analytics.db import TableSpec
from analytics.errors import ReadOnlyAccountError
from analytics.retention import cleanup
from analytics.testing import ClickHouseServer
from analytics.testing.runs import run_context
from analytics.web.gate import FailedSignIns, Gate, safe_next

from .conftest import REPO

# -- users ---------------------------------------------------------------------------------------------


def test_users_file_keeps_salted_hashes_readable_by_its_owner_only(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "users.json")
    users.add("anna", "same-password", ["account_managers"])
    users.add("oleg", "same-password", ["marketing"])
    text = (tmp_path / "users.json").read_text()
    assert "same-password" not in text
    hashes = [entry["hash"] for entry in json.loads(text)["users"].values()]
    assert hashes[0] != hashes[1] and all(item.startswith("$argon2id$") for item in hashes)  # salted
    assert stat.S_IMODE((tmp_path / "users.json").stat().st_mode) == 0o600
    assert users.verify("anna", "same-password") == Person("anna", frozenset({"account_managers"}))
    assert users.verify("anna", "wrong") is None and users.verify("nobody", "same-password") is None


@pytest.mark.parametrize("name", ["", "../etc", "a b", "x" * 65, "<script>", "anna\n", "-rf"])
def test_users_file_refuses_names_it_cannot_keep(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError):
        UsersFile(tmp_path / "users.json").add(name, "long-enough-pass", [])


def test_users_file_refuses_short_passwords_and_bad_groups(tmp_path: Path) -> None:
    users = UsersFile(tmp_path / "users.json")
    with pytest.raises(UserError, match="at least 8"):
        users.add("anna", "short", [])
    with pytest.raises(UserError, match="Group names"):
        users.add("anna", "long-enough-pass", ["Admins!"])
    with pytest.raises(UserError, match="no user"):
        users.remove("anna")


def test_users_command_adds_lists_and_removes(tmp_path: Path) -> None:
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path)}

    def cli(*args: str, given: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "analytics.cli", "users", *args], input=given, env=env,
                              capture_output=True, text=True, timeout=60)

    assert cli("add", "anna", "--groups", "account_managers,marketing", given="anna-password\n").returncode == 0
    assert cli("list").stdout == "anna\taccount_managers,marketing\n"
    short = cli("add", "ivan", given="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr and "Traceback" not in short.stderr
    assert cli("remove", "anna").returncode == 0 and cli("list").stdout == ""


# -- groups and the gate's rules -------------------------------------------------------------------------


def test_folders_name_their_groups_and_a_notebook_may_name_its_own(tmp_path: Path) -> None:
    (tmp_path / "sales").mkdir()
    (tmp_path / "sales" / "access.json").write_text('{"groups": ["account_managers"]}')
    (tmp_path / "sales" / "a.ipynb").write_text('{"cells": [], "metadata": {}}')
    (tmp_path / "sales" / "b.ipynb").write_text('{"cells": [], "metadata": {"analytics": {"groups": ["marketing"]}}}')
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "c.ipynb").write_text('{"cells": [], "metadata": {}}')
    anna, oleg = Person("anna", frozenset({"account_managers"})), Person("oleg", frozenset({"marketing"}))
    assert allowed_groups(tmp_path, "sales/a.ipynb") == {"account_managers"}
    assert may_open(anna, tmp_path, "sales/a.ipynb") and not may_open(oleg, tmp_path, "sales/a.ipynb")
    assert may_open(oleg, tmp_path, "sales/b.ipynb") and not may_open(anna, tmp_path, "sales/b.ipynb")
    assert not may_open(anna, tmp_path, "new/c.ipynb")  # a folder naming no groups is for admins only
    assert may_open(Person("root", frozenset({"admin"})), tmp_path, "new/c.ipynb")


def test_every_report_folder_names_its_groups() -> None:
    for folder in (REPO / "notebooks").iterdir():
        if folder.is_dir() and list(folder.glob("*.ipynb")):
            assert (folder / "access.json").is_file(), folder


def test_export_folders_are_safe_names() -> None:
    assert user_folder("anna") == "anna"
    for odd in ("../x", "a/b", "..", ".hidden", "имя", "a b", ""):
        folder = user_folder(odd)
        assert "/" not in folder and not folder.startswith(".") and folder.startswith("u-")


def test_after_sign_in_only_a_path_of_this_app() -> None:
    assert safe_next("/voila/render/x.ipynb?a=1", "/") == "/voila/render/x.ipynb?a=1"
    for hostile in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", None, ""):
        assert safe_next(hostile, "/") == "/"
    assert safe_next("/other/x", "/reports/") == "/reports/"


def test_failed_sign_ins_pause_after_the_limit_and_a_success_clears_them() -> None:
    limiter = FailedSignIns(limit=3, window=60)
    for _ in range(3):
        assert limiter.wait_seconds("address:x") == 0
        limiter.failed("address:x")
    assert 0 < limiter.wait_seconds("address:x") <= 60
    limiter.succeeded("address:x")
    assert limiter.wait_seconds("address:x") == 0


def test_routes_of_the_gate(tmp_path: Path) -> None:
    gate = Gate(load_settings(home=tmp_path), "/", "127.0.0.1")
    kernel = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert gate.route("/") == ("start", {})
    assert gate.route("/voila/render/a/b.ipynb") == ("report", {"notebook": "a/b.ipynb"})
    assert gate.route(f"/api/kernels/{kernel}/channels")[0] == "kernel"
    assert gate.route(f"/voila/api/shutdown/{kernel}")[0] == "kernel"
    assert gate.route(f"/voila/query/{kernel}")[0] == "kernel_query"
    assert gate.route("/exports/anna/x.csv") == ("download", {"folder": "anna", "file": "x.csv"})
    assert gate.route("/exports/anna%2F..%2Fboss/x.csv")[0] == "missing"  # decoded, it is not one folder and a file
    assert gate.open_local  # nothing configured, on loopback: the local user, as before


# -- the read-only account -------------------------------------------------------------------------------


@pytest.mark.server
def test_the_report_account_cannot_insert_drop_or_alter_and_the_writer_can(clickhouse_server: ClickHouseServer,
                                                                          server_url: str) -> None:
    scratch = TableSpec("privilege_probe", {"day": "Date", "n": "UInt32"}, order_by=("day",), partition_by="day")
    with connect(server_url) as writer:
        writer.drop_table(scratch.name)
        writer.create_table(scratch)
        writer.execute("INSERT INTO privilege_probe SELECT toDate('2026-11-01'), 1")
    with connect(clickhouse_server.reader_url) as reader:
        assert reader.scalar("SELECT count() FROM partners") > 0  # reports read as before
        for sql in ("INSERT INTO privilege_probe SELECT toDate('2026-11-02'), 2", "DROP TABLE privilege_probe",
                    "ALTER TABLE privilege_probe DELETE WHERE 1", "ALTER TABLE privilege_probe DROP PARTITION '2026-11-01'",
                    "CREATE TABLE sneaky (a UInt8) ENGINE = Memory", "TRUNCATE TABLE privilege_probe"):
            with pytest.raises(ReadOnlyAccountError, match="may only read"):
                reader.execute(sql)
        with pytest.raises(ReadOnlyAccountError):
            reader.insert("privilege_probe", pd.DataFrame({"day": [dt.date(2026, 11, 3)], "n": [3]}))
    with connect(server_url) as writer:
        assert writer.scalar("SELECT sum(n) FROM privilege_probe") == 1  # nothing the reader tried landed
        writer.execute("INSERT INTO privilege_probe SELECT toDate('2026-11-02'), 2")
        writer.execute("ALTER TABLE privilege_probe DROP PARTITION '2026-11-01'")
        assert writer.scalar("SELECT sum(n) FROM privilege_probe") == 2
        writer.drop_table(scratch.name)
        assert "privilege_probe" not in writer.tables()


@pytest.mark.server
def test_a_report_reads_with_the_report_account_and_audits_with_the_writer(clickhouse_server: ClickHouseServer,
                                                                         server_url: str, tmp_path: Path) -> None:
    from analytics.params import declaration
    from analytics.pipeline import run_report
    from analytics.reports import partner_cards

    settings = load_settings(home=tmp_path, db_url=clickhouse_server.reader_url, db_writer_url=server_url)
    parameters = declaration(REPO / "notebooks" / "account_managers" / "partner_cards.ipynb")
    with connect(settings=settings) as reader:
        outcome = run_report(partner_cards, parameters, {"partner_id": 3}, run_context(reader, settings, user="anna"))
    with connect(server_url) as writer:
        rows = writer.query("SELECT action, file, sha256 FROM audit_log WHERE run_id = %(r)s ORDER BY action",
                            {"r": outcome.run_id})
    assert list(rows["action"]) == ["export", "export", "run"]
    assert set(rows["file"]) >= {result.path.name for result in outcome.files}


# -- the audit trail -------------------------------------------------------------------------------------


def test_audit_events_are_written_once_and_kept_through_an_outage(tmp_path: Path, embedded_url: str) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    settings = load_settings(home=tmp_path, db_url=store)
    log = AuditLog(settings)
    event = AuditEvent("export", "plastic_cards", {"partner_id": 3, "start": dt.date(2026, 10, 1)}, 42, "x.csv", "ab" * 32,
                       user="anna", client="10.0.0.7")
    assert log.record(event) and log.record(event)  # a retry of the same event
    outage = AuditLog(load_settings(home=tmp_path, db_url="clickhouse://nobody:pw@127.0.0.1:1/default?connect_timeout=1"))
    lost = AuditEvent("download", file="y.csv", user="ivan")
    assert not outage.record(lost)  # the database is down: the row waits in the pending file
    assert (tmp_path / "reports" / "audit" / "pending.jsonl").read_text().count("\n") == 1
    log.close()
    outage.settings = settings  # the database is back
    assert outage.flush().written == 1
    with connect(store) as db:
        rows = db.query("SELECT user, action, report, parameters, ifNull(toString(rows), 'none') AS rows, file, client "
                        "FROM audit_log ORDER BY user")
    assert rows.to_dict("records") == [
        {"user": "anna", "action": "export", "report": "plastic_cards",
         "parameters": '{"partner_id": 3, "start": "2026-10-01"}', "rows": "42", "file": "x.csv", "client": "10.0.0.7"},
        {"user": "ivan", "action": "download", "report": "", "parameters": "{}", "rows": "none", "file": "y.csv",
         "client": ""}]
    outage.close()


@pytest.mark.parametrize("unwritable", [
    {"action": "export", "report": "plastic_cards", "rows": -1, "file": "minus.csv"},  # a count UInt64 cannot take
    {"action": "download", "file": "r\udcffport.csv"},  # a file name with a byte that is not UTF-8
], ids=["negative-rows", "undecodable-name"])
def test_one_unwritable_audit_event_does_not_hold_back_the_next_good_one(tmp_path: Path, unwritable: dict) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    log = AuditLog(load_settings(home=tmp_path, db_url=store))
    bad = AuditEvent(**unwritable, user="anna")
    assert not log.record(bad)  # parked with its reason
    assert log.record(AuditEvent("download", file="good.csv", user="ivan"))  # written at once
    assert log.record(AuditEvent("download", file="next.csv", user="ivan"))
    [parked] = log.parked()
    assert parked.key == bad.event_id and parked.rejected and parked.reason
    assert log.flush().rejected == 1 and len(log.parked()) == 1  # `analytics cleanup` tries it again; it stays, alone
    log.close()
    with connect(store) as db:
        assert list(db.query("SELECT file FROM audit_log ORDER BY file")["file"]) == ["good.csv", "next.csv"]


_WRITER = """
import sys
from analytics.audit import AuditEvent, AuditLog
from analytics.config import load_settings
log = AuditLog(load_settings(home=sys.argv[1], db_url=sys.argv[2]))
print("ready", flush=True)
for number in range(100000):
    log.record(AuditEvent("run", "report", {"n": number}, number, user="loop", event_id=f"event-{number}"))
"""


def test_an_audit_writer_killed_mid_write_leaves_whole_rows_and_a_rerun_adds_no_copy(tmp_path: Path) -> None:
    store = f"chdb://{tmp_path / 'store'}"
    process = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), store], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    time.sleep(4)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    with connect(store) as db:
        rows = db.query("SELECT event_id, rows, parameters FROM audit_log")
    assert len(rows) > 0
    assert rows["event_id"].is_unique
    assert all(row.parameters == json.dumps({"n": row.rows}) for row in rows.itertuples())  # whole rows only
    written = len(rows)
    log = AuditLog(load_settings(home=tmp_path, db_url=store))
    for number in range(written):  # the same events again: nothing new
        log.record(AuditEvent("run", "report", {"n": number}, number, user="loop", event_id=f"event-{number}"))
    log.close()
    with connect(store) as db:
        assert db.scalar("SELECT count() FROM audit_log") == written


def test_audit_table_declares_plain_labels() -> None:
    assert set(AUDIT_TABLE.labels) == set(AUDIT_TABLE.columns)


# -- retention -------------------------------------------------------------------------------------------


def test_cleanup_removes_old_files_keeps_new_ones_and_every_audit_row(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, db_url=f"chdb://{tmp_path / 'store'}")
    AuditLog(settings).record(AuditEvent("export", "r", file="old.csv", user="anna"))
    old_export = tmp_path / "reports" / "exports" / "anna" / "old.csv"
    new_export = tmp_path / "reports" / "exports" / "anna" / "new.csv"
    old_run = tmp_path / "reports" / "runs" / "old.ipynb"
    for path in (old_export, new_export, old_run):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    month_ago = time.time() - 31 * 86400
    for path in (old_export, old_run):
        os.utime(path, (month_ago, month_ago))
    preview = cleanup(settings, dry_run=True)
    assert sorted(preview.removed) == sorted([old_export, old_run]) and old_export.exists()
    done = cleanup(settings)
    assert not old_export.exists() and not old_run.exists() and new_export.exists() and done.kept >= 1
    with connect(settings=settings) as db:
        assert sorted(db.query("SELECT action FROM audit_log")["action"]) == ["cleanup", "export"]
