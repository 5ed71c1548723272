"""The audience funnel's steps, each a function over Arrow/NumPy columns, with a reason for everyone left out.

A :class:`Funnel` carries the people still in (``kept``, an Arrow table with ``user_id``,
``amplitude_id`` and the users' attributes) and, for everyone dropped, the step's reason. Steps
never loop over users in Python: masks, ``np.isin`` and sorted lookups only, so a two-million-user
cohort takes seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..clients.amplitude import numeric_ids
from .buckets import BUCKETS, buckets
from .holdout import HoldoutVersion

USER_COLUMNS = ("user_id", "amplitude_id", "gender", "birth_year", "os", "device_model", "region", "carrier",
                "push_enabled")
REASON_UNKNOWN = "unknown ID (not among our users)"
REASON_DUPLICATE = "duplicate (already in the cohort)"


@dataclass(frozen=True)
class Step:
    label: str  # what a person reads in the funnel: "Pushes allowed"
    remaining: int  # people still in after it
    left_out: int  # people this step left out


@dataclass
class Funnel:
    kept: pa.Table
    steps: list[Step] = field(default_factory=list)
    excluded: list[pa.Table] = field(default_factory=list)  # user_id, amplitude_id, reason

    def keep(self, mask: np.ndarray, label: str, reason: str) -> Funnel:
        """Keep rows where ``mask`` is true; the others are excluded with ``reason``."""
        mask = np.asarray(mask, dtype=bool)
        dropped = self.kept.filter(pa.array(~mask))
        if dropped.num_rows:
            self.excluded.append(_reasons(dropped.column("user_id"), dropped.column("amplitude_id"), reason))
        self.kept = self.kept.filter(pa.array(mask))
        self.steps.append(Step(label, self.kept.num_rows, dropped.num_rows))
        return self

    def exclusions(self) -> pa.Table:
        if not self.excluded:
            return _reasons(pa.array([], pa.uint64()), pa.array([], pa.uint64()), "")
        return pa.concat_tables(self.excluded)

    def column(self, name: str) -> np.ndarray:
        return self.kept.column(name).to_numpy(zero_copy_only=False)


def _reasons(user_id: pa.Array | pa.ChunkedArray, amplitude_id: pa.Array | pa.ChunkedArray, reason: str) -> pa.Table:
    return pa.table({"user_id": user_id, "amplitude_id": amplitude_id,
                     "reason": pa.array(np.full(len(user_id), reason, dtype=object), pa.string())
                     .dictionary_encode().cast(pa.string())})


# --- cleaning -----------------------------------------------------------------------------------------------------

def match_cohort(cohort: pa.Table, users: pa.Table) -> Funnel:
    """Map cohort rows to our users (by a user ID Amplitude knows, else by Amplitude ID); drop unknowns and duplicates.

    ``cohort`` has ``amplitude_id`` (0 when missing) and ``user_id`` (text, may be empty); ``users``
    has :data:`USER_COLUMNS`. Everyone kept is one row of ``users`` (in its order); each cohort row that
    names nobody we know, or someone named before, is left out with its reason.
    """
    amplitude_ids = cohort.column("amplitude_id").to_numpy(zero_copy_only=False)
    our_ids = numeric_ids(cohort.column("user_id")).to_numpy()
    row = _find(users.column("user_id").to_numpy(), our_ids)  # Amplitude's user_id is ours when set
    row = np.where(row >= 0, row, _find(users.column("amplitude_id").to_numpy(), amplitude_ids))
    known = row >= 0
    first = np.zeros(len(row), dtype=bool)
    first[np.flatnonzero(known)[_first_occurrences(row[known])]] = True
    duplicate = known & ~first
    referenced = np.zeros(users.num_rows, dtype=bool)
    referenced[row[first]] = True
    funnel = Funnel(users if referenced.all() else users.filter(pa.array(referenced)),
                    [Step("In the Amplitude cohort", cohort.num_rows, 0)])
    for mask, label, reason in ((~known, "Known users", REASON_UNKNOWN), (duplicate, "Without duplicates", REASON_DUPLICATE)):
        if mask.any():
            funnel.excluded.append(_reasons(pa.array(np.where(known, users.column("user_id").to_numpy()[np.maximum(row, 0)],
                                                              our_ids)[mask]), pa.array(amplitude_ids[mask]), reason))
        funnel.steps.append(Step(label, funnel.steps[-1].remaining - int(mask.sum()), int(mask.sum())))
    return funnel


def _first_occurrences(values: np.ndarray) -> np.ndarray:
    """Mask of the first occurrence of each value, in order (a stable sort, no hashing)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.empty(len(values), dtype=bool)
    if len(values):
        first[order] = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    return first


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (faster than ``np.unique`` on millions of integers)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def _find(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of each wanted value in ``values`` (unsorted), -1 where absent; 0 never matches (it means "missing")."""
    if len(values) == 0:
        return np.full(len(wanted), -1)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    index = np.minimum(np.searchsorted(ordered, wanted), len(ordered) - 1)
    return np.where((ordered[index] == wanted) & (wanted != 0), order[index], -1)


# --- filters from the warehouse ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The marketer's extra filters; empty means "everyone"."""

    gender: str = "any"  # any, male, female
    age_from: int = 0
    age_to: int = 0  # 0: no upper bound
    os: Sequence[str] = ()
    device_models: Sequence[str] = ()
    regions: Sequence[str] = ()
    carriers: Sequence[str] = ()
    push_enabled: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The users' columns these filters read (only those are fetched)."""
        wanted = {"gender": self.gender in ("male", "female"), "birth_year": bool(self.age_from or self.age_to),
                  "os": bool(self.os), "device_model": bool(self.device_models), "region": bool(self.regions),
                  "carrier": bool(self.carriers), "push_enabled": self.push_enabled}
        return tuple(name for name, used in wanted.items() if used)


def apply_filters(funnel: Funnel, filters: Filters, year: int) -> Funnel:
    """Each set filter is one funnel step, in a fixed order, with its own reason."""
    if filters.gender in ("male", "female"):
        same = pc.equal(funnel.kept.column("gender"), pa.scalar(filters.gender)).to_numpy(zero_copy_only=False)
        funnel.keep(same, f"Gender: {filters.gender}", "filter: gender")
    if filters.age_from or filters.age_to:
        born = funnel.column("birth_year").astype(np.int64)
        age = np.where(born > 0, year - born, -1)
        upper = filters.age_to or 200
        funnel.keep((age >= filters.age_from) & (age <= upper) & (born > 0),
                    f"Age {filters.age_from}–{filters.age_to or '…'}", "filter: age (or age unknown)")
    for column, chosen, label in (("os", filters.os, "Operating system"),
                                  ("device_model", filters.device_models, "Device model"),
                                  ("region", filters.regions, "Region"), ("carrier", filters.carriers, "Carrier")):
        if chosen:
            mask = pc.fill_null(pc.is_in(funnel.kept.column(column), value_set=pa.array(list(chosen), pa.string())), False)
            funnel.keep(mask.to_numpy(zero_copy_only=False), f"{label}: {', '.join(chosen)}", f"filter: {label.lower()}")
    if filters.push_enabled:
        funnel.keep(funnel.column("push_enabled") == 1, "Pushes allowed", "filter: pushes not allowed")
    return funnel


def apply_cap(funnel: Funnel, messaged: np.ndarray, days: int) -> Funnel:
    """Leave out users messaged (a push delivery or another audience's target group) in the last ``days`` days."""
    if days <= 0:
        return funnel
    recent = np.isin(funnel.column("user_id"), messaged)
    return funnel.keep(~recent, f"Not messaged in the last {days} days", f"frequency cap: messaged in the last {days} days")


def apply_holdout(funnel: Funnel, holdout: HoldoutVersion) -> Funnel:
    held = holdout.contains(funnel.column("user_id"))
    return funnel.keep(~held, f"Outside the global hold-out ({holdout.percent:g}%)",
                       f"global hold-out (version {holdout.version})")


def split(user_ids: np.ndarray, salt: int, control_percent: float) -> np.ndarray:
    """True for users in the control group: bucket(salt, user_id) < control share × 10,000."""
    threshold = int(round(control_percent * BUCKETS / 100))
    return buckets(user_ids, salt) < threshold
