"""Faults of the embedded store's files stay with their table; a reader cannot write (issue 17).

* A table this account cannot read (its folder or a part, chmod 000, read by a non-root process) fails only
  the queries that touch it, with one sentence naming it; the other tables answer.
* A part that is not a regular file (a pipe, a directory, a link) is never handed to chDB; a pipe swapped in
  after its table's view was made ends the query at its time limit instead of hanging it.
* ``connect(read_only=True)``, the reports' connection, refuses every write; on the embedded store no SQL
  other than one query ever runs, whichever connection it comes through.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from analytics import TableSpec, connect, load_settings
from analytics.db import Database
from analytics.db.failures import BlockedReadError, NotAQueryError, UnreadableTableError
from analytics.db.manifest import MANIFEST_FILE, read_manifest
from analytics.errors import AnalyticsError, QueryTimeoutError, ReadOnlyAccountError

NUMBERS = {"n": "UInt32"}


def numbers(rows: int) -> pa.Table:
    return pa.table({"n": pa.array(range(rows), pa.uint32())})


def two_tables(db: Database) -> None:
    """``secret`` (3 rows) and ``open`` (2 rows), one part each."""
    for name, rows in (("secret", 3), ("open", 2)):
        db.create_table(TableSpec(name, NUMBERS, order_by=("n",)))
        db.insert(name, numbers(rows))


def first_part(db: Database, table: str) -> Path:
    folder = Path(db.url[len("chdb://"):]) / table
    return folder / read_manifest(folder).parts[0].name


def count(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT count() FROM {table}"))


# --- a table this account may not read, as a non-root reader meets it ----------------------------------

READER = """
import json, os, sys
import chdb.session, pandas, pyarrow.parquet  # the interpreter's own files, read while still root
from analytics import connect
from analytics.errors import AnalyticsError
uid, gid = int(sys.argv[2]), int(sys.argv[3])
if uid != os.geteuid():  # become the other account before the store is touched
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
outcome = {}
with connect(sys.argv[1]) as db:
    outcome["tables"] = db.tables()
    for name, sql in (("open", "SELECT count() FROM open"), ("secret", "SELECT count() FROM secret"),
                      ("both", "SELECT count() FROM open ALL INNER JOIN secret USING n"),
                      ("open again", "SELECT sum(n) FROM open")):
        try:
            outcome[name] = db.scalar(sql)
        except AnalyticsError as error:
            outcome[name] = [type(error).__name__, str(error)]
print(json.dumps(outcome))
"""


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder another account can enter (the tests' own temporary folders are the owner's only)."""
    folder = Path(tempfile.mkdtemp(prefix="store-faults-"))
    folder.chmod(0o755)
    yield folder
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(folder)


def read_as_another_account(url: str, home: Path) -> dict:
    """Run READER in a child process that, when we are root (root ignores permission bits), becomes ``nobody``.

    The interpreter lives in root's home, so the child starts as root, imports what it needs, and drops its
    privileges before it opens anything of the store.
    """
    account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(home)}
    done = subprocess.run([sys.executable, "-c", READER, url, str(account.pw_uid), str(account.pw_gid)],
                          capture_output=True, text=True, timeout=300, env=environment, cwd=home, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("unreadable", ["table folder", "part file"])
def test_a_table_another_account_cannot_read_fails_only_its_own_queries(shared_folder: Path, unreadable: str) -> None:
    url = f"chdb://{shared_folder / 'store'}"
    with connect(url) as db:
        two_tables(db)
        target = shared_folder / "store" / "secret" if unreadable == "table folder" else first_part(db, "secret")
    target.chmod(0o000)

    outcome = read_as_another_account(url, shared_folder / "home")

    assert outcome["tables"] == ["open", "secret"]  # still listed, so a query naming it is told why
    assert outcome["open"] == 2 and outcome["open again"] == 1
    for query in ("secret", "both"):
        kind, message = outcome[query]
        assert kind == "UnreadableTableError"
        assert message.startswith("The table 'secret' cannot be read: ")
        assert "permission denied" in message and "Traceback" not in message and "\n" not in message
        assert str(shared_folder) not in message  # names the table's file, not the server's folders


# --- parts that are not regular files ---------------------------------------------------------------------

def pipe(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def dangling_link(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.with_name("gone.parquet"))


def list_of_parts_is_a_folder(path: Path) -> None:
    (path.parent / MANIFEST_FILE).unlink()
    (path.parent / MANIFEST_FILE).mkdir()


def damaged_schema(path: Path) -> None:
    (path.parent / "schema.json").write_text("{not json", encoding="utf-8")


@pytest.mark.timeout(120)  # a guard: a part that blocks must never hold a query
@pytest.mark.parametrize(("fault", "culprit", "reason"), [
    (pipe, "part-", "is a named pipe, not a regular file"),
    (directory, "part-", "is a directory, not a regular file"),
    (dangling_link, "part-", "is a symbolic link, not a part file"),
    (list_of_parts_is_a_folder, "manifest.json", "is a directory, not a file"),
    (damaged_schema, "schema.json", "is damaged"),
], ids=["pipe", "directory", "dangling link", "list of parts", "schema"])
def test_a_broken_file_fails_the_queries_of_its_table_only(scratch_store: Database, fault: Callable[[Path], None],
                                                           culprit: str, reason: str) -> None:
    two_tables(scratch_store)
    fault(first_part(scratch_store, "secret"))

    with connect(scratch_store.url) as db:  # a fresh process's view: nothing cached
        assert count(db, "open") == 2
        for sql in ("SELECT count() FROM secret", "SELECT count() FROM open ALL INNER JOIN secret USING n"):
            with pytest.raises(UnreadableTableError) as refused:
                db.query(sql)
            assert refused.value.table == "secret" and refused.value.sql == sql
            assert refused.value.file.startswith("secret/" + culprit)
            assert str(refused.value).startswith(f"The table 'secret' cannot be read: 'secret/{culprit}")
            assert reason in str(refused.value)
        assert count(db, "open") == 2


@pytest.mark.timeout(120)  # the guard: without the time limit honoured this test would hang here
def test_a_pipe_swapped_in_after_the_view_was_made_ends_at_the_time_limit(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYTICS_QUERY_TIMEOUT", "2")
    with connect(f"chdb://{tmp_path / 'store'}", load_settings()) as db:
        two_tables(db)
        assert count(db, "secret") == 3  # the view over its part is made (and checked) now
        pipe(first_part(db, "secret"))  # same manifest: the view is not made again

        with pytest.raises(BlockedReadError) as stopped:
            db.query("SELECT count() FROM secret")

        assert isinstance(stopped.value, QueryTimeoutError) and stopped.value.limit_seconds == 2
        assert stopped.value.table == "secret" and stopped.value.file.startswith("secret/part-")
        assert str(stopped.value).startswith("The query took longer than its time limit of 2 seconds and was stopped: "
                                             "reading 'secret/part-")
        assert count(db, "open") == 2  # a new session answers the other tables
        with pytest.raises(UnreadableTableError, match="is a named pipe"):  # and now refuses the pipe up front
            db.query("SELECT count() FROM secret")


# --- the reports' connection reads only ------------------------------------------------------------------

PROBE = TableSpec("reader_probe", NUMBERS, order_by=("n",))
WRITES: dict[str, Callable[[Database], object]] = {
    "insert": lambda db: db.insert("events", pa.table({}), token="never"),
    "create_table": lambda db: db.create_table(PROBE),
    "drop_table": lambda db: db.drop_table(PROBE.name),
    "replace_partitions": lambda db: db.replace_partitions("events", {}),
    "drop_partitions": lambda db: db.drop_partitions("events", []),
    "compact": lambda db: db.compact("events"),
    "collect_garbage": lambda db: db.collect_garbage(),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_the_reports_connection_refuses_every_write_primitive(db_url: str, write: str) -> None:
    with connect(db_url, read_only=True) as reader:
        with pytest.raises(ReadOnlyAccountError, match="may only read"):
            WRITES[write](reader)
        assert reader.scalar("SELECT count() FROM events") > 0  # and still reads
        assert PROBE.name not in reader.tables()


def test_the_writer_on_the_same_store_still_writes(scratch_store: Database) -> None:
    scratch_store.create_table(PROBE)
    with connect(scratch_store.url, read_only=True) as reader:
        assert scratch_store.insert(PROBE.name, numbers(4), token="first") == 4
        assert count(reader, PROBE.name) == 4
        with reader.snapshot():
            assert count(reader, PROBE.name) == 4
        with pytest.raises(ReadOnlyAccountError):
            reader.insert(PROBE.name, numbers(1))
    assert count(scratch_store, PROBE.name) == 4


def statements(target: Path) -> list[str]:
    """SQL that writes a file, changes the session or smuggles a second statement past the query wrapper."""
    file = f"file('{target}', CSV)"
    return [
        f"INSERT INTO FUNCTION {file} SELECT 1",
        f"SELECT 1 INTO OUTFILE '{target}'",
        f"SELECT 1; INSERT INTO FUNCTION {file} SELECT 1",
        f"SELECT 1); INSERT INTO FUNCTION {file} SELECT (1",
        "DROP VIEW open",
        "CREATE TABLE made (n UInt8) ENGINE = Memory",
        "SET max_execution_time = 0",
    ]


@pytest.mark.parametrize("read_only", [True, False], ids=["reader", "writer"])
def test_only_one_query_ever_runs_on_the_embedded_store(scratch_store: Database, tmp_path: Path, read_only: bool) -> None:
    two_tables(scratch_store)
    target = tmp_path / "written.csv"
    with connect(scratch_store.url, read_only=read_only) as db:
        assert count(db, "open") == 2
        for sql in statements(target):
            with pytest.raises(AnalyticsError) as refused:
                db.query(sql)
            assert "Traceback" not in str(refused.value)
            assert not target.exists(), sql
            assert count(db, "open") == 2, sql  # the view is still there
        with pytest.raises(ReadOnlyAccountError if read_only else NotAQueryError):
            db.query("DROP VIEW open")
        assert len(db.query("WITH 1 AS one SELECT n FROM open UNION ALL SELECT n + one FROM secret")) == 5
