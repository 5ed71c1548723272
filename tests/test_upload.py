"""File parameters (``File[csv, xlsx]``): a path headless, an upload in the form, kept in the person's private
folder under a name no browser can turn into a way out of it."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics import load_settings
from analytics.forms import ReportForm
from analytics.params import FormInvalid, declaration, parse_kind, resolve
from analytics.render import outcome_html
from analytics.uploads import UPLOAD_LIMIT, safe_name, save_upload, upload_folder

from .conftest import REPO

ECHO = REPO / "tests" / "notebooks" / "upload_echo.ipynb"
KIND = parse_kind("File[csv, xlsx]")


def refusal(value: object) -> str:
    with pytest.raises(ValueError) as refused:
        KIND.convert(value)
    return str(refused.value)


def test_the_declaration_reads_a_file_parameter() -> None:
    source, _ = declaration(ECHO)
    assert source.kind.widget == "file" and source.kind.extensions == ("csv", "xlsx")
    assert source.label == "File" and "100 MB" in source.help


@pytest.mark.parametrize("name", ["list.csv", "LIST.CSV", "book.Xlsx"])
def test_a_readable_file_with_an_allowed_extension_is_a_path(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("a,b\n", encoding="utf-8")
    assert KIND.convert(str(tmp_path / name)) == tmp_path / name
    assert KIND.convert(tmp_path / name) == tmp_path / name


def test_headless_refusals_are_plain_sentences(tmp_path: Path) -> None:
    assert refusal("") == "choose a file"
    assert refusal(None) == "choose a file"
    assert refusal("/x/y.csv") == "no such file /x/y.csv"
    (tmp_path / "folder.csv").mkdir()
    assert refusal(str(tmp_path / "folder.csv")) == f"is not a file: {tmp_path / 'folder.csv'}"
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert refusal(str(tmp_path / "notes.txt")) == "must be a .csv or .xlsx file, not 'notes.txt'"
    assert refusal("/etc/passwd") == "must be a .csv or .xlsx file, not 'passwd'"
    assert refusal("a\x00.csv") == "must be the path of a file"
    assert refusal(42) == "must be the path of a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.csv"
    path.write_text("a\n", encoding="utf-8")
    path.chmod(0)
    assert refusal(str(path)).startswith("cannot be read")


def test_a_file_over_the_limit_is_refused_with_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.truncate(UPLOAD_LIMIT + 1)  # sparse: no 100 MB written
    assert "files of at most 100 MB are taken" in refusal(str(path))
    with pytest.raises(ValueError, match="at most 100 MB"):
        save_upload(load_settings(home=tmp_path), "anna", "big.csv", memoryview(bytearray(UPLOAD_LIMIT + 1)))
    assert not (tmp_path / "reports" / "uploads").exists()  # nothing written


def test_resolve_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(FormInvalid) as invalid:
        resolve(declaration(ECHO), {"source": "/x/y.csv"})
    assert invalid.value.errors == {"source": "no such file /x/y.csv"}
    with pytest.raises(FormInvalid) as empty:
        resolve(declaration(ECHO), {})
    assert empty.value.errors == {"source": "choose a file"}


HOSTILE_NAMES = ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/cron.d/x.csv", "a\x00b.csv", "x" * 300 + ".csv",
                 "...", "..", ".", "", ".bashrc", "список клиентов.csv", "a/../../b.xlsx", "con.csv\n", "-rf .csv"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_stay_inside_the_upload_folder(tmp_path: Path, name: str) -> None:
    settings = load_settings(home=tmp_path)
    path = save_upload(settings, "anna", name, b"a,b\n1,2\n")
    root = upload_folder(settings, "anna").resolve()
    assert path.resolve().parent.parent == root
    assert path.read_bytes() == b"a,b\n1,2\n"
    assert not path.name.startswith(".") and "\x00" not in path.name and len(path.name) <= 120
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, root, root.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.parametrize(("name", "kept"), [("Clients 2026.CSV", "Clients-2026.CSV"), ("../../etc/passwd", "passwd"),
                                            ("x" * 300 + ".xlsx", "x" * 115 + ".xlsx"), ("...", "upload"),
                                            ("a\x00b.csv", "ab.csv")])
def test_safe_names(name: str, kept: str) -> None:
    assert safe_name(name) == kept


def test_two_uploads_of_one_name_are_two_files(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path)
    first, second = (save_upload(settings, "anna", "list.csv", content) for content in (b"1\n", b"2\n"))
    assert first != second and first.read_bytes() == b"1\n" and second.read_bytes() == b"2\n"


def upload(form: ReportForm, name: str, content: bytes) -> None:
    form.fields["source"].input.value = ({"name": name, "type": "text/csv", "size": len(content),
                                          "content": memoryview(content), "last_modified": dt.datetime.now(dt.UTC)},)


def echo_form(tmp_path: Path, seen: list) -> ReportForm:
    settings = load_settings(home=tmp_path)

    def run(raw, progress, cancelled, run_id):  # type: ignore[no-untyped-def]
        seen.append(resolve(declaration(ECHO), raw))
        raise FormInvalid({"source": "stop here"})

    return ReportForm(declaration(ECHO), {}, lambda parameter, values: None, run, settings,
                      keep=lambda name, content: save_upload(settings, "anna", name, content))


def test_the_form_saves_an_upload_at_once_and_the_report_gets_its_path(tmp_path: Path) -> None:
    seen: list = []
    form = echo_form(tmp_path, seen)
    field = form.fields["source"]
    assert field.raw() == ""
    upload(form, "../clients.csv", b"phone\n89123456789\n")
    assert field.raw().read_bytes() == b"phone\n89123456789\n"
    assert field.raw().parent.parent == upload_folder(load_settings(home=tmp_path), "anna")
    assert "clients.csv · 18 bytes" in field.chosen.value and field.error.value == ""
    assert field.input.value == ()  # the widget let the bytes go
    form.run_button.click()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == [{"source": field.raw(), "note": ""}]


def test_the_form_refuses_a_wrong_extension_without_writing(tmp_path: Path) -> None:
    form = echo_form(tmp_path, [])
    upload(form, "photo.png", b"\x89PNG")
    assert "must be a .csv or .xlsx file" in form.fields["source"].error.value
    assert form.fields["source"].raw() == ""
    assert not (tmp_path / "reports" / "uploads").exists()


def test_a_shared_link_never_carries_an_uploaded_path(tmp_path: Path) -> None:
    import pandas as pd  # noqa: PLC0415

    from analytics.pipeline import RunOutcome  # noqa: PLC0415
    from analytics.results import ReportQuery  # noqa: PLC0415

    outcome = RunOutcome("r1", ReportQuery("echo", "Echo", ""), 0, pd.DataFrame(),
                         values={"source": tmp_path / "list.csv", "limit": 3})
    html = outcome_html(outcome, share_url="/voila/render/echo.ipynb")
    assert "limit=3" in html and "list.csv" not in html


def test_cleanup_removes_old_uploads_like_old_exports(tmp_path: Path) -> None:
    from analytics.retention import cleanup  # noqa: PLC0415

    settings = load_settings(home=tmp_path, db_url=f"chdb://{tmp_path / 'store'}")
    old, new = (save_upload(settings, "anna", name, b"x\n") for name in ("old.csv", "new.csv"))
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    cleanup(settings)
    assert not old.exists() and new.exists()


def echo_run(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ANALYTICS_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "analytics.cli", "run", str(ECHO), "--url", url, *args],
                          capture_output=True, text=True, env=environment, timeout=300, check=False)


def test_analytics_run_takes_a_path_and_refuses_a_missing_file(tmp_path: Path, embedded_url: str) -> None:
    (tmp_path / "List.XLSX").write_bytes(b"one\ntwo\n")
    done = echo_run(tmp_path, embedded_url, "-p", "source", str(tmp_path / "List.XLSX"))
    assert done.returncode == 0, done.stderr
    csv = next(Path(line) for line in done.stdout.splitlines() if line.endswith(".csv"))
    assert "List.XLSX" in csv.read_text(encoding="utf-8") and ",8,2" in csv.read_text(encoding="utf-8")
    missing = echo_run(tmp_path, embedded_url, "-p", "source", "/x/y.csv")
    assert missing.returncode == 1 and "source: no such file /x/y.csv" in missing.stderr
    # an empty value is refused the same way (test_resolve_names_the_field), without a third kernel here
