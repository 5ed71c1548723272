"""``make screenshots``: a real ``analytics serve`` on a copy of the demo store, Debian's Chromium, every page run
with its defaults and written as a whole-page PNG, with a table of pages, seconds and error lines."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

from analytics.screenshots import copy_store, report_paths

REPO = Path(__file__).resolve().parents[1]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_screenshots_of_the_home_page_and_two_reports_run_with_their_defaults(embedded_url: str, tmp_path: Path) -> None:
    store = embedded_url[len("chdb://"):]
    before = sorted(path.name for path in Path(store).rglob("*"))
    out = tmp_path / "screenshots"
    env = {**os.environ, "ANALYTICS_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "analytics.screenshots", "--store", store, "--notebooks",
                           str(REPO / "notebooks"), "--out", str(out), "--only", "plastic_cards,ab_summary"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.splitlines()
    assert table[0].split() == ["page", "seconds", "error", "shown"]
    rows = {line.split()[0]: line.split()[1:] for line in table[1:-1]}
    assert set(rows) == {"home", "plastic_cards", "ab_summary"}
    assert all(row[1] == "—" for row in rows.values()), done.stdout  # no page showed an error line
    assert table[-1] == f"3 screenshots in {out}/"
    sizes = {name: png_size(out / f"{name}.png") for name in rows}
    assert all(width == 1280 for width, _ in sizes.values())
    assert sizes["ab_summary"][1] > 1600  # the whole page (form, verdicts, charts), not the first screen
    assert sorted(path.name for path in Path(store).rglob("*")) == before  # the reports wrote in a copy


def test_the_store_copy_links_parts_and_copies_the_files_a_writer_appends_to(tmp_path: Path) -> None:
    source = tmp_path / "store" / "events"
    source.mkdir(parents=True)
    (source / "part-1.parquet").write_bytes(b"PAR1")
    (source / "retired.tsv").write_text("old\t1\n")
    copy_store(tmp_path / "store", tmp_path / "copy")
    copied = tmp_path / "copy" / "events"
    assert (copied / "part-1.parquet").stat().st_ino == (source / "part-1.parquet").stat().st_ino
    assert (copied / "retired.tsv").stat().st_ino != (source / "retired.tsv").stat().st_ino


def test_reports_are_found_by_notebook_name_without_checkpoints(tmp_path: Path) -> None:
    for name in ("sales/a.ipynb", "sales/.ipynb_checkpoints/a-checkpoint.ipynb", "ops/b.ipynb"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert report_paths(tmp_path) == [Path("ops/b.ipynb"), Path("sales/a.ipynb")]
    assert report_paths(tmp_path, {"a"}) == [Path("sales/a.ipynb")]
