"""Which two variants an A/B summary compares, chosen by name and never guessed.

The assignments table names each user's variant. The summary compares a control with one test
variant: by default the variants named ``control`` and ``test``, otherwise the names a person gives
(as GrowthBook and Statsig let one pick the baseline). Nothing is inferred from the data:

- a named variant the experiment does not have (``A``/``B``, or a typo) is refused with the list of
  the variants it does have, so the person can type the right name;
- a variant with fewer than two users (an empty group) is refused: there is nothing to compare yet;
- further variants are left out of the comparison and named on the page, never counted as control.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ParameterError

CONTROL, TEST = "control", "test"
MIN_GROUP_USERS = 2  # fewer users in a compared group: no spread, no test


class VariantError(ParameterError):
    """The variants asked for cannot be compared; ``name`` is the field to correct, the message one plain sentence."""

    def __init__(self, name: str, value: str, sentence: str) -> None:
        super().__init__(name, value, sentence)
        self.args = (sentence,)

    def __str__(self) -> str:
        return f"{self.allowed[:1].upper()}{self.allowed[1:]}."


@dataclass(frozen=True)
class Variants:
    """The compared pair and every variant found, with its users, most users first."""

    control: str
    test: str
    found: tuple[tuple[str, int], ...]

    @property
    def users(self) -> dict[str, int]:
        return dict(self.found)

    @property
    def left_out(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.found if name not in (self.control, self.test))

    def compared(self, users: pa.Table) -> pa.Table:
        """The rows of the two compared variants only (a third variant's users are not control)."""
        if not self.left_out:
            return users
        return users.filter(pc.is_in(users.column("variant"), pa.array([self.control, self.test])))

    def is_test(self, variants: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """True for the test variant's rows, False for the control's (of a table already :meth:`compared`)."""
        return np.asarray(pc.equal(variants, self.test).to_numpy(zero_copy_only=False), dtype=bool)


def listed(found: tuple[tuple[str, int], ...]) -> str:
    """ "'A' (5,012 users), 'B' (4,988 users)": how the messages name the variants found."""
    return ", ".join(f"'{name}' ({users:,} user{'s' if users != 1 else ''})" for name, users in found)


def choose(variants: pa.Array | pa.ChunkedArray, control: str = CONTROL, test: str = TEST, *, experiment: str = "",
           by: dt.date | None = None) -> Variants:
    """The compared pair from the users' variant column, or a VariantError naming the field to correct."""
    counts = pc.value_counts(variants).to_pylist()
    found = tuple(sorted(((str(item["values"]), int(item["counts"])) for item in counts), key=lambda v: (-v[1], v[0])))
    users = dict(found)
    where = f"'{experiment}'" if experiment else "this experiment"
    when = f" by {by:%d.%m.%Y}" if by else ""
    if not found:
        raise VariantError("experiment", experiment, f"{where} has no assigned users{when}")
    if control == test:
        raise VariantError("test_variant", test, f"the test variant must differ from the control variant ('{control}')")
    if len(found) == 1:
        only = found[0][0]
        name, missing = ("test_variant", test) if only == control else ("control_variant", control)
        raise VariantError(name, missing, f"{where} has users in one variant only{when}: {listed(found)}; there is "
                           f"no '{missing}' group to compare it with yet. Choose a later last day, or wait for the "
                           "assignment to reach both groups")
    for name, wanted, role in (("control_variant", control, "control"), ("test_variant", test, "test")):
        if wanted not in users:
            other = "the test variant's name under Test variant" if role == "control" else "the control's under Control variant"
            raise VariantError(name, wanted, f"{where} has no variant named '{wanted}'; its variants are "
                               f"{listed(found)}. Type the {role} variant's name here (and {other})")
    for name, wanted in (("control_variant", control), ("test_variant", test)):
        if users[wanted] < MIN_GROUP_USERS:
            raise VariantError(name, wanted, f"'{wanted}' has only {users[wanted]} user{when} in {where} "
                               f"({listed(found)}): too few to compare. Choose a later last day, or wait for more users")
    return Variants(control, test, found)
