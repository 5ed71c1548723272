"""The README alone is enough to check a raffle draw, and its audience split formula is the one the code runs."""

from __future__ import annotations

import ast
import csv
import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

from analytics import Database, connect, load_settings
from analytics.audiences.buckets import bucket_of, bucket_sql
from analytics.db.sql import identifier
from analytics.raffle import demo as raffle_demo
from analytics.raffle import draw, last_full_week, participants, stored, week_of
from analytics.runner import run_notebook

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
MARKER = "# verify_raffle.py:"  # the first line of the README's verifier block


def readme_verifier() -> str:
    blocks = [block for block in re.findall(r"^```python\n(.*?)^```$", README, re.S | re.M) if block.startswith(MARKER)]
    assert len(blocks) == 1, f"the README has {len(blocks)} python blocks starting with {MARKER!r}"
    return blocks[0]


def test_the_readme_verifier_imports_only_the_standard_library_and_stays_short() -> None:
    code = readme_verifier()
    tree = ast.parse(code)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported and imported <= set(sys.stdlib_module_names), imported
    assert len(code.splitlines()) <= 45


def test_the_readme_verifier_reproduces_a_demo_draw_from_its_participants_file(embedded_url: str, tmp_path: Path) -> None:
    """A demo draw through the notebook, as a marketer makes it; then the README's code block, run on the
    participants file the page offers, the demo's public salt and the week, prints the same winners."""
    store = tmp_path / "store"  # a copy: the draws written here stay out of the shared demo store
    shutil.copytree(embedded_url.removeprefix("chdb://"), store)
    settings = load_settings(db_url=f"chdb://{store}", home=tmp_path / "home")
    with connect(settings.database_url) as db:
        raffle = raffle_demo.set_up_raffle(db, settings)
        week = last_full_week(db.scalar("SELECT max(event_date) FROM events"), raffle.timezone)
        earlier = week_of(week.start - dt.timedelta(days=7), raffle.timezone)
        everyone = participants(db, raffle, earlier).num_rows  # all of the earlier week win: some are left out now
        draw(db, settings, raffle.raffle, earlier, winners=everyone, redraw=True,  # whatever the shared store held
             now=week.closes + dt.timedelta(days=1))
    run = run_notebook(REPO / "notebooks" / "marketing" / "raffle.ipynb",  # a redraw: another test may have drawn it
                       {"week": week.start.isoformat(), "winners": 3, "action": "redraw"}, settings=settings)
    [participants_csv] = [path for path in run.files if path.name.startswith("raffle_participants_") and path.suffix == ".csv"]
    [winners_csv] = [path for path in run.files if path.name.startswith("raffle_winners_") and path.suffix == ".csv"]
    winners = [int(row["User ID"]) for row in _rows(winners_csv)]
    left_out = sum(1 for row in _rows(participants_csv) if row["Left out of the draw"])
    assert len(winners) == 3 and left_out > 0

    script = tmp_path / "verify_raffle.py"
    script.write_text(readme_verifier(), encoding="utf-8")
    mid_week = (week.start + dt.timedelta(days=3)).isoformat()  # any day of the week will do
    child = subprocess.run([sys.executable, "-I", str(script), str(participants_csv), raffle_demo.DEMO_RAFFLE_SALT,
                            raffle.raffle, mid_week, str(len(winners))], capture_output=True, text=True, timeout=60,
                           cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})  # isolated: nothing of ours importable
    assert child.returncode == 0, child.stderr
    printed = child.stdout
    assert [int(user) for user in re.findall(r"^pick \d+: (\d+)$", printed, re.M)] == winners
    with connect(settings.database_url) as db:
        current = stored(db, raffle.raffle, week)
    assert current is not None and current.eligible == current.participants - left_out
    assert f"participant list SHA-256: {current.participants_hash}" in printed
    assert f"commitment (SHA-256 of the salt): {raffle.commitment}" in printed
    assert f"{current.participants} participants, {left_out} left out" in printed


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_readme_split_formula_is_the_code_s_with_its_casts(scratch_store: Database) -> None:
    formula = re.search(r"`(modulo\(murmurHash3_32\(.*?\), 10000\)) < control_percent \* 100`", README)
    assert formula, "the README's split formula"
    expression = formula.group(1)
    code = bucket_sql(identifier("user_id", ["user_id"])).replace("`", "").replace("%(salt)s", "salt")
    assert expression == code
    assert "toUInt64(user_id)" in expression and "toUInt64(salt)" in expression
    for user_id, salt in ((42, 7), (1_000_626, 2**63 + 5), (2**64 - 1, 0)):  # typed-in values: the casts decide
        literal = expression.replace("user_id", str(user_id)).replace("salt", str(salt))
        assert scratch_store.scalar("SELECT " + literal) == bucket_of(user_id, salt)
    uncast = "modulo(murmurHash3_32(bitXor(42, 7)), 10000)"
    assert scratch_store.scalar("SELECT " + uncast) != bucket_of(42, 7)  # why the README names the cast
