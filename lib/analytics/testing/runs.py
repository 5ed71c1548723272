"""A run context in one line for tests and benchmarks: a reader, settings and a person, nothing else needed."""

from __future__ import annotations

import secrets
import threading
from typing import Any

from ..config import Settings, load_settings
from ..context import Job, RunContext
from ..db import Database


def run_context(db: Database, settings: Settings | None = None, *, user: str = "tester", run_id: str = "",
                job: Job | None = None, cancelled: threading.Event | None = None, writer: Database | None = None,
                **options: Any) -> RunContext:
    """What the form or ``analytics run`` would build, over ``db``; ``writer`` lends a writer the run leaves open."""
    ctx = RunContext(settings or load_settings(), db, user, run_id or secrets.token_hex(4), job=job,
                     cancelled=cancelled or threading.Event(), **options)
    if writer is not None:
        ctx._writer, ctx._owns_writer = writer, False  # noqa: SLF001 - the one place a writer is lent
    return ctx
