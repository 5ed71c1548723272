"""The amoCRM load of 100,000 leads from the fake account, batched against a page-per-insert baseline.

Each backend (the embedded store, a ClickHouse 18.16 server on loopback) loads the same fake account twice,
each time into a store of its own: batched as shipped (``BATCH_ROWS`` rows per insert) and the baseline of
one insert per page of 250 (``batch_rows=250``). The client's rate limit is lifted to 1,000 requests a
second for the local fake, so the table measures the loader and the store, not amoCRM's 7 requests a second.

What is counted, from both sides:

* ``inserts``: the loader's inserts into ``crm_leads`` (``StreamResult.inserts``), then the inserts the store
  itself recorded for ``crm_leads``: every insert of the loader carries an insert token, which the server
  keeps in its table of tokens and the embedded store in the table's manifest;
* ``checkpoints``: the checkpoint commits, each one more insert (into ``crm_checkpoints``);
* ``parts``: on the server, the level-0 parts ``crm_leads`` was written as (one per insert block, counted in
  ``system.parts`` with those merged away since, which stay 8 minutes), then its active parts at the end;
  on the embedded store, the parts in its manifest at the end, as shipped (small parts merged after every 64);
* ``s in requests``: time inside the client's ``get`` (the local fake serving pages, in this process; its
  answers sent at once, TCP_NODELAY, as every local fake's are);
  ``s in inserts``: time inside ``Loader._write`` (the rows' insert and the checkpoint's commit);
  ``s reading versions``: time inside ``Loader._new_versions`` (one query per batch for the versions stored).

Run: ``.venv/bin/python benchmarks/crm.py [--leads 100000] [--skip-server]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analytics import Database, connect, load_settings
from analytics.clients.amocrm import AmoCRM, RateLimit
from analytics.crm.entities import streams
from analytics.crm.loader import BATCH_ROWS, Loader, StreamResult
from analytics.crm.tables import LEADS
from analytics.db.embedded import EmbeddedStore
from analytics.db.manifest import read_manifest
from analytics.db.server import TOKENS
from analytics.testing import ClickHouseServer
from analytics.testing.fakes import FakeAmoCRM
from analytics.testing.figures import print_rows

BASELINE_ROWS = 250  # one insert per page: what a loader that writes each page as it comes does
LIFTED = 1_000  # requests a second: the local fake, not amoCRM
MODES = {f"batched ({BATCH_ROWS:,} rows)": BATCH_ROWS, f"baseline (page per insert, {BASELINE_ROWS})": BASELINE_ROWS}


class TimedClient(AmoCRM):
    """The shipped client, with the seconds spent waiting for answers added up."""

    seconds: float = 0.0

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        started = time.perf_counter()
        try:
            return super().get(path, params)
        finally:
            self.seconds += time.perf_counter() - started


@dataclass
class TimedLoader(Loader):
    """The shipped loader, with the seconds spent in its two kinds of store work added up."""

    write_seconds: float = 0.0
    read_seconds: float = 0.0

    def _write(self, *args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            super()._write(*args, **kwargs)
        finally:
            self.write_seconds += time.perf_counter() - started

    def _new_versions(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        started = time.perf_counter()
        try:
            return super()._new_versions(*args, **kwargs)
        finally:
            self.read_seconds += time.perf_counter() - started


@dataclass
class Run:
    """One load's figures."""

    results: list[StreamResult]
    seconds: float
    requests: float
    writes: float
    reads: float
    stored_inserts: int
    parts: str


def store_counts(db: Database, table: str) -> tuple[int, str]:
    """(inserts the store recorded into ``table``, its parts), as the module's docstring says."""
    if isinstance(db, EmbeddedStore):
        return len(read_manifest(db.root / table).tokens), f"{db.part_count(table):,} now"
    inserts = db.scalar(f"SELECT count() FROM {TOKENS} WHERE table = %(t)s", {"t": table})
    written = db.scalar("SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = %(t)s"
                        " AND level = 0", {"t": table})
    return int(inserts), f"{int(written):,} written, {db.part_count(table):,} now"


def fresh_store(url: str, run: int) -> str:
    """A store of its own for one run: a new folder here, a new database on the server.

    So the inserts and parts the store counts (its tokens, ``system.parts`` with parts merged away) are this
    run's alone.
    """
    if url.startswith("chdb"):
        return f"{url}-{run}"
    name = f"crm_bench_{run}"
    with connect(url) as db:
        db.execute(f"DROP DATABASE IF EXISTS {name}")
        db.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def load(fake: FakeAmoCRM, url: str, batch_rows: int) -> Run:
    """One full load of the leads streams (leads, deleted leads) into an empty store."""
    with tempfile.TemporaryDirectory() as home, connect(url) as db:
        settings = load_settings({"ANALYTICS_HOME": home, **fake.settings()})
        limit = RateLimit(settings.reports_dir / ".amocrm-requests", per_second=LIFTED)
        client = TimedClient(settings.amocrm_url, settings.amocrm_token, limit)
        loader = TimedLoader(client, db, settings.reports_dir, user="bench", batch_rows=batch_rows)
        started = time.perf_counter()
        results = loader.run(streams(["leads"]), "full")
        seconds = time.perf_counter() - started
        return Run(results, seconds, client.seconds, loader.write_seconds, loader.read_seconds,
                   *store_counts(db, LEADS.name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    rows: list[list[object]] = []
    pages_at_7 = 0
    with tempfile.TemporaryDirectory() as folder, FakeAmoCRM() as fake:
        fake.add_leads(args.leads)
        backends = {"embedded (chDB)": f"chdb://{folder}/store"}
        server = None if args.skip_server else ClickHouseServer().start()
        if server is not None:
            backends["server (ClickHouse 18.16)"] = server.url
        try:
            for label, url in backends.items():
                for run, (mode, batch_rows) in enumerate(MODES.items()):
                    done = load(fake, fresh_store(url, run), batch_rows)
                    leads = next(result for result in done.results if result.entity.name == "leads")
                    assert leads.finished and leads.written == args.leads, (leads.written, args.leads)
                    pages = sum(result.pages for result in done.results)
                    pages_at_7 = max(pages_at_7, pages)
                    inserts = sum(result.inserts for result in done.results if result.entity.table is LEADS)
                    checkpoints = sum(result.batches for result in done.results)
                    rows.append([label, mode, f"{leads.written:,}", f"{pages:,}",
                                 f"{inserts:,} / {done.stored_inserts:,}", f"{checkpoints:,}", done.parts,
                                 f"{done.seconds:.1f}", f"{leads.written / done.seconds:,.0f}",
                                 f"{done.requests:.1f}", f"{done.writes:.1f}", f"{done.reads:.1f}"])
        finally:
            if server is not None:
                server.stop()
    print(f"amoCRM load of {args.leads:,} leads from the local fake, rate limit LIFTED to {LIFTED:,} requests/s "
          "to measure the loader and the store, not amoCRM")
    print_rows(["backend", "mode", "leads", "pages", "crm_leads inserts: loader / store", "checkpoints",
                "crm_leads parts", "seconds", "entities/s", "s in requests", "s in inserts+commits",
                "s reading versions"], rows)
    print(f"At amoCRM's 7 requests/s the same load waits at least {pages_at_7:,} pages / 7 = {pages_at_7 / 7:.0f} s for "
          "its requests, whichever the mode; the seconds in the store come on top where they do not fit in the waits.")


if __name__ == "__main__":
    main()
