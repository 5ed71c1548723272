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
    """Map cohort rows to our users (by Amplitude ID, else by a user ID Amplitude knows), then drop unknowns and duplicates.

    ``cohort`` has ``amplitude_id`` (0 when missing) and ``user_id`` (text, may be empty); ``users``
    has :data:`USER_COLUMNS`. The result's rows are users' rows, in the cohort's order.
    """
    amplitude_ids = cohort.column("amplitude_id").to_numpy(zero_copy_only=False)
    text_ids = pc.utf8_trim_whitespace(cohort.column("user_id"))
    numeric = pc.match_substring_regex(text_ids, r"^\d{1,19}$")
    our_ids = pc.if_else(numeric, text_ids, "0").cast(pa.uint64()).to_numpy(zero_copy_only=False)
    row = _find(users.column("user_id").to_numpy(), our_ids)  # Amplitude's user_id is ours when set
    row = np.where(row >= 0, row, _find(users.column("amplitude_id").to_numpy(), amplitude_ids))
    known = row >= 0
    funnel = Funnel(users.take(pa.array(row[known])), [Step("In the Amplitude cohort", cohort.num_rows, 0)])
    if not known.all():
        funnel.excluded.append(_reasons(pa.array(our_ids[~known]), pa.array(amplitude_ids[~known]), REASON_UNKNOWN))
    funnel.steps.append(Step("Known users", int(known.sum()), int((~known).sum())))
    first = np.zeros(funnel.kept.num_rows, dtype=bool)
    first[np.unique(funnel.column("user_id"), return_index=True)[1]] = True
    return funnel.keep(first, "Without duplicates", REASON_DUPLICATE)


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


def apply_filters(funnel: Funnel, filters: Filters, year: int) -> Funnel:
    """Each set filter is one funnel step, in a fixed order, with its own reason."""
    if filters.gender in ("male", "female"):
        funnel.keep(funnel.column("gender") == filters.gender, f"Gender: {filters.gender}", "filter: gender")
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
            mask = pc.is_in(funnel.kept.column(column), value_set=pa.array(list(chosen), pa.string()))
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
