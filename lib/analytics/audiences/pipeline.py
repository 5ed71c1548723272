"""One audience, end to end: cohort → cleaning → filters → frequency cap → hold-out → split → (save) → files.

:func:`build_audience` is what the notebooks call. A sub_id already saved is shown as stored and
nothing is downloaded or written, unless ``replace`` asks for a new version. Without ``save`` the
funnel is computed and shown, and nothing is written: the marketer looks, then saves.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..clients.amplitude import AmplitudeClient, CohortFile, check_cohort_id, numeric_ids
from ..config import Settings
from ..db import Database, connect
from ..db.sql import compose, identifier
from ..errors import CohortError, ParameterError
from ..params import Code
from ..warehouse import WAREHOUSE
from . import holdout as holdouts
from . import store
from .buckets import salt_for
from .steps import (
    USER_COLUMNS,
    Filters,
    Funnel,
    Step,
    apply_cap,
    apply_filters,
    apply_holdout,
    match_cohort,
    sorted_unique,
    split,
)
from .tables import RECIPIENTS

COHORT_CACHE_SECONDS = 3600  # a preview and its save within the hour use one download (Amplitude counts them)

Status = Callable[[str], None]


@dataclass(frozen=True)
class AudienceRequest:
    cohort_id: str
    sub_id: str
    filters: Filters = field(default_factory=Filters)
    cap_days: int = 7
    control_percent: float = 10.0
    salt: int | None = None  # derived from the sub_id unless given
    kind: str = "push"

    @property
    def used_salt(self) -> int:
        return self.salt if self.salt is not None else salt_for(self.sub_id)

    def parameters(self) -> dict[str, Any]:
        return {"cohort_id": self.cohort_id, "sub_id": self.sub_id, "cap_days": self.cap_days,
                "control_percent": self.control_percent, "salt": self.used_salt, "kind": self.kind,
                **{name: list(value) if isinstance(value, tuple | list) else value
                   for name, value in self.filters.__dict__.items()}}


@dataclass
class AudiencePlan:
    """The computed audience before saving: the funnel, the members and their groups."""

    request: AudienceRequest
    funnel: Funnel
    control: np.ndarray
    holdout: holdouts.HoldoutVersion
    cohort_size: int
    version: int

    @property
    def steps(self) -> list[Step]:
        control = int(np.count_nonzero(self.control))
        return [*self.funnel.steps, Step(f"Target group ({100 - self.request.control_percent:g}%)",
                                         len(self.control) - control, 0),
                Step(f"Control group ({self.request.control_percent:g}%)", control, 0)]


@dataclass
class AudienceOutcome:
    saved: store.SavedAudience | None  # what is stored for the sub_id now (None: previewed only)
    plan: AudiencePlan | None  # None when a stored audience was shown without recomputing
    reused: bool = False  # the sub_id was already saved: nothing was downloaded or written

    @property
    def steps(self) -> list[Step]:
        if self.plan is not None:
            return self.plan.steps
        audience = self.saved
        assert audience is not None
        return [Step("In the Amplitude cohort", audience.cohort_size, 0),
                Step("Left out (see the exclusions file)", audience.cohort_size - audience.excluded_size,
                     audience.excluded_size),
                Step(f"Target group ({100 - audience.control_percent:g}%)", audience.target_size, 0),
                Step(f"Control group ({audience.control_percent:g}%)", audience.control_size, 0)]


def check_sub_id(sub_id: object) -> str:
    """The form's rule for a code (``Code[required]``), for callers of the library too; dots alone are no name."""
    try:
        text = Code(("required",)).convert(sub_id)
    except ValueError:
        text = ""
    if text.strip(".") == "":
        raise ParameterError("sub_id", sub_id, "a sub_id is letters, digits, '_', '-' and '.', at most 64, like "
                             "push_2026_12_01")
    return text


def suggested_sub_id(cohort_id: str, kind: str, today: dt.date) -> str:
    """The sub_id offered when none is typed: kind, cohort and day, so a second run the same day finds the first."""
    return f"{kind}_{check_cohort_id(cohort_id)}_{today:%Y%m%d}"


# --- reading the warehouse ------------------------------------------------------------------------------------------

def cohort_users(db: Database, cohort: pa.Table, attributes: tuple[str, ...] = USER_COLUMNS[2:]) -> pa.Table:
    """The rows of ``users`` the cohort names (by Amplitude ID or user ID), with the ``attributes`` filters need.

    Read chunk by chunk; each chunk keeps only cohort members (sorted lookups), so memory follows the
    cohort, not the users table. Text columns come back dictionary-encoded (a region stored once).
    """
    amplitude = sorted_unique(cohort.column("amplitude_id").to_numpy(zero_copy_only=False))
    ours = sorted_unique(numeric_ids(cohort.column("user_id")).to_numpy())
    names = ("user_id", "amplitude_id", *(name for name in USER_COLUMNS[2:] if name in attributes))
    columns = [identifier(name, WAREHOUSE["users"].columns) for name in names]
    kept = []
    for chunk in db.iter_chunks(compose("SELECT {c} FROM users", c=columns)):
        mask = _member(amplitude, chunk.column("amplitude_id").to_numpy()) | _member(ours, chunk.column("user_id").to_numpy())
        kept.append(chunk.filter(pa.array(mask)))
    return _encoded(pa.concat_tables(kept).combine_chunks())


def _encoded(table: pa.Table) -> pa.Table:
    for index, field_ in enumerate(table.schema):
        if pa.types.is_string(field_.type) or pa.types.is_large_string(field_.type):
            table = table.set_column(index, field_.name, pc.dictionary_encode(table.column(index).combine_chunks()))
    return table


def _member(sorted_unique: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each value is in ``sorted_unique``; the needles are sorted first, so lookups stay in the cache."""
    if len(sorted_unique) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    order = np.argsort(values)
    needles = values[order]
    index = np.minimum(np.searchsorted(sorted_unique, needles), len(sorted_unique) - 1)
    found = np.empty(len(values), dtype=bool)
    found[order] = (sorted_unique[index] == needles) & (needles != 0)
    return found


def messaged_since(db: Database, since: dt.datetime, sub_id: str) -> np.ndarray:
    """Users sent a push since ``since``, or put in another saved audience's target group since then."""
    found = [_ids(db, "SELECT DISTINCT user_id FROM push_deliveries WHERE sent_at >= %(since)s", {"since": since})]
    if RECIPIENTS.name in db.tables():
        sql = compose("SELECT DISTINCT user_id FROM audience_recipients WHERE {g} = 'target' AND created_at >= %(since)s"
                      " AND sub_id != %(sub_id)s AND ", g=identifier("group", RECIPIENTS.columns)) + store.LEDGER.committed()
        found.append(_ids(db, sql, {"since": since, "sub_id": sub_id}))
    return sorted_unique(np.concatenate(found).astype(np.uint64))


def _ids(db: Database, sql: str, params: dict[str, Any]) -> np.ndarray:
    """One column of IDs, streamed (a cap over months of pushes may hold millions)."""
    parts = [chunk.column(0).to_numpy() for chunk in db.iter_chunks(sql, params)]
    return np.concatenate(parts).astype(np.uint64) if parts else np.array([], np.uint64)


# --- the cohort -----------------------------------------------------------------------------------------------------

def fetch_cohort(settings: Settings, cohort_id: str, status: Status | None = None,
                 client: AmplitudeClient | None = None, cancelled: threading.Event | None = None) -> pa.Table:
    """The cohort's members, from a download of the last hour or a new one (saved under ``reports/cohorts/``)."""
    cohort_id = check_cohort_id(cohort_id)
    folder = settings.reports_dir / "cohorts" / cohort_id
    recent = _recent_download(folder)
    if recent is None:
        owned = client is None
        client = client or AmplitudeClient.from_settings(settings)
        try:
            recent = client.download_cohort(cohort_id, folder, status, cancelled).path
        finally:
            if owned:
                client.close()
        for old in folder.glob("cohort-*.csv"):
            if old != recent:
                old.unlink(missing_ok=True)
    elif status:
        status(f"Using cohort {cohort_id} as downloaded at {dt.datetime.fromtimestamp(recent.stat().st_mtime):%H:%M}.")
    members = CohortFile(recent, cohort_id, "").read()
    if members.num_rows == 0:
        raise CohortError(f"Cohort {cohort_id} is empty in Amplitude: nobody to send to. Check the cohort's "
                          "definition and that it has been computed.", service="Amplitude")
    return members


def _recent_download(folder: Path) -> Path | None:
    files = sorted(folder.glob("cohort-*.csv"), key=lambda path: path.stat().st_mtime) if folder.is_dir() else []
    if files and time.time() - files[-1].stat().st_mtime < COHORT_CACHE_SECONDS:
        return files[-1]
    return None


# --- planning and saving ----------------------------------------------------------------------------------------------

def plan_audience(db: Database, cohort: pa.Table, request: AudienceRequest, holdout: holdouts.HoldoutVersion, *,
                  now: dt.datetime, version: int = 1) -> AudiencePlan:
    """Every step up to the split, computed in memory; nothing is written."""
    funnel = match_cohort(cohort, cohort_users(db, cohort, request.filters.columns))
    apply_filters(funnel, request.filters, now.year)
    if request.cap_days > 0:
        apply_cap(funnel, messaged_since(db, now - dt.timedelta(days=request.cap_days), request.sub_id), request.cap_days)
    apply_holdout(funnel, holdout)
    control = split(funnel.column("user_id"), request.used_salt, request.control_percent)
    return AudiencePlan(request, funnel, control, holdout, cohort.num_rows, version)


def build_audience(db: Database, request: AudienceRequest, settings: Settings, *, save: bool = False,
                   replace_saved: bool = False, user: str = "", now: dt.datetime | None = None,
                   status: Status | None = None, client: AmplitudeClient | None = None,
                   writer: Database | None = None, before_commit: Callable[[], None] | None = None) -> AudienceOutcome:
    """Show the stored audience of ``request.sub_id``, or compute it (and save it when ``save``).

    One call for scripts and tests; reports plan (:func:`plan_request`) and save (:func:`save_plan`) as two
    steps, so Cancel and the read snapshot sit between them.
    """
    outcome = plan_request(db, request, settings, replace_saved=replace_saved, now=now, status=status, client=client)
    if not save or outcome.plan is None:
        return outcome
    own_writer = writer is None
    writer = writer or connect(settings.writer_url, settings=settings)
    try:
        return save_plan(writer, settings, outcome.plan, user=user, status=status, before_commit=before_commit)
    finally:
        if own_writer:
            writer.close()


def plan_request(db: Database, request: AudienceRequest, settings: Settings, *, replace_saved: bool = False,
                 now: dt.datetime | None = None, status: Status | None = None,
                 client: AmplitudeClient | None = None, cancelled: threading.Event | None = None) -> AudienceOutcome:
    """The stored audience of the sub_id (nothing to compute), or the audience computed now; nothing is written."""
    request = replace(request, cohort_id=check_cohort_id(request.cohort_id), sub_id=check_sub_id(request.sub_id))
    existing = store.saved(db, request.sub_id)
    if existing is not None and not replace_saved:
        return AudienceOutcome(existing, None, reused=True)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    cohort = fetch_cohort(settings, request.cohort_id, status, client, cancelled)
    if status:
        status(f"Cleaning and filtering {cohort.num_rows:,} cohort members…")
    holdout = holdouts.preview(db, settings.holdout_share)
    plan = plan_audience(db, cohort, request, holdout, now=now, version=existing.version + 1 if existing else 1)
    return AudienceOutcome(existing, plan)


def save_plan(writer: Database, settings: Settings, plan: AudiencePlan, *, user: str, status: Status | None = None,
              before_commit: Callable[[], None] | None = None) -> AudienceOutcome:
    """Store a computed audience under its sub_id and version (the hold-out version it used is created first)."""
    holdout = holdouts.current(writer, settings.holdout_share, by=user)
    if holdout != plan.holdout:
        raise store.AudienceConflict(f"The global hold-out changed (now version {holdout.version}) while this audience "
                                     "was computed; run it again.")
    request = plan.request
    if status:
        status(f"Saving {len(plan.control):,} recipients as {request.sub_id} version {plan.version}…")
    stored = store.save(writer, settings, sub_id=request.sub_id, version=plan.version, kind=request.kind,
                        cohort_id=request.cohort_id, salt=request.used_salt, control_percent=request.control_percent,
                        holdout_version=holdout.version, cohort_size=plan.cohort_size,
                        members=plan.funnel.kept.select(["user_id", "amplitude_id"]), control=plan.control,
                        exclusions=plan.funnel.exclusions(), parameters=request.parameters(), user=user,
                        before_commit=before_commit)
    return AudienceOutcome(stored, plan, reused=stored.version != plan.version)
