"""One run's context: everything a report may use, built once by whoever starts the run.

The form (a visitor's kernel), ``analytics run`` and the scheduler each build one :class:`RunContext` and
hand it to :func:`analytics.pipeline.run_report`; a report takes ``(ctx, **values)`` and reaches the settings,
the reader, the writer, the person, the run id, its status line, Cancel and (when scheduled) its job only
through it. No report reads the environment, loads settings or opens a connection of its own, so the same
report runs the same under each starter and a test builds a context in one line.

A scheduled run crosses a process boundary (the notebook runs in its own kernel): the scheduler writes the
run's description (:class:`RunDescription`) into one variable, ``ANALYTICS_RUN``, and the page rebuilds
the context from it before the report is called.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .config import Settings
from .db import Database, connect
from .errors import AnalyticsError

Status = Callable[[str], None]
Progress = Callable[[int | str], None]  # rows read, or the words of the file phase
RUN_ENV = "ANALYTICS_RUN"  # the run's description, JSON, set by the runner for the notebook's kernel


class RunCancelled(AnalyticsError):
    """The person pressed Cancel. ``saved`` is a sentence on what had been written before (empty: nothing was)."""

    def __init__(self, saved: str = "") -> None:
        self.saved = saved
        super().__init__(f"Cancelled. {saved} No file was written; run it again to get the files."
                         if saved else "Cancelled: nothing was saved and no file was written.")


def raise_if_cancelled(cancelled: threading.Event | None, saved: str = "") -> None:
    """The one Cancel check, between any two steps or chunks (the spool, Amplitude's wait, a run context)."""
    if cancelled is not None and cancelled.is_set():
        raise RunCancelled(saved)


@dataclass(frozen=True)
class Job:
    """The scheduled job a run belongs to: its name, the link to this run's page, where its alerts go."""

    name: str
    link: str = ""
    alert_target: str = "slack"


@dataclass(frozen=True)
class RunDescription:
    """What crosses from the runner to the notebook's kernel: who, which run, which job, headless or not."""

    run_id: str
    user: str
    job: Job | None = None
    client: str = ""

    def to_env(self) -> dict[str, str]:
        return {RUN_ENV: json.dumps(asdict(self))}

    @classmethod
    def from_env(cls) -> RunDescription | None:
        raw = os.environ.get(RUN_ENV)
        if not raw:
            return None
        data = json.loads(raw)
        job = data.get("job")
        return cls(data["run_id"], data["user"], Job(**job) if job else None, data.get("client", ""))


@dataclass
class RunContext:
    """The settings, the reader, a writer opened on first use, the person, one run id, progress and status,
    Cancel, and the job when scheduled.

    ``in_app`` is true for a visitor's form: what only a headless run may do (send alerts) is refused there.
    The pipeline closes the writer (:meth:`close`) when the run ends.
    """

    settings: Settings
    reader: Database
    user: str
    run_id: str
    client: str = ""
    job: Job | None = None
    in_app: bool = False
    status: Status | None = None
    progress: Progress | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    _writer: Database | None = field(default=None, repr=False)
    _owns_writer: bool = field(default=True, repr=False)  # False: a writer lent by the caller, left open

    @property
    def db(self) -> Database:
        """The reader: what a report queries (an account that may only read)."""
        return self.reader

    @property
    def writer(self) -> Database:
        """The writer account, opened the first time a commit step needs it."""
        if self._writer is None:
            self._writer = connect(self.settings.writer_url, settings=self.settings)
        return self._writer

    def say(self, text: str) -> None:
        """Tell the person what a long step is doing (the form's status line; nobody when headless)."""
        if self.status is not None:
            self.status(text)

    def stop_if_cancelled(self, saved: str = "") -> None:
        """Raise :class:`RunCancelled` when Cancel was pressed; call it between steps and chunks."""
        raise_if_cancelled(self.cancelled, saved)

    def close(self) -> None:
        if self._writer is not None and self._owns_writer:
            self._writer.close()
            self._writer = None
