"""After a run a kernel hands back what the run freed (analytics.memory), and reads the same afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from analytics import connect
from analytics.memory import give_back

BIG_QUERY = "SELECT number % 1000000 AS k, count() AS c FROM numbers(5000000) GROUP BY k ORDER BY c DESC, k LIMIT 5"


def test_an_embedded_connection_reads_the_same_after_giving_memory_back(tmp_path: Path) -> None:
    with connect(f"chdb://{tmp_path}", read_only=True) as db:
        give_back(db)  # nothing queried yet: nothing to purge, no session opened for it
        assert db._session is None
        before = db.query(BIG_QUERY)
        give_back(db)
        assert db.query(BIG_QUERY).equals(before)


def test_the_embedded_engine_returns_the_pages_a_big_query_freed(tmp_path: Path) -> None:
    """chDB's allocator keeps a query's freed pages for the life of the process; give_back returns them (what
    a visitor's kernel holds between runs: benchmarks/app_memory.py)."""
    probe = f"""
import psutil
from analytics import connect
from analytics.memory import give_back
db = connect("chdb://{tmp_path}", read_only=True)
db.query({BIG_QUERY!r})
before = psutil.Process().memory_full_info().uss
give_back(db)
print((before - psutil.Process().memory_full_info().uss) // 2**20)
"""
    freed_mb = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    assert freed_mb >= 20
