"""What makes a draw verifiable: a committed salt, a hashed participant list and a SHA-256 counter stream.

* The salt is secret and fixed when the raffle is set up; its SHA-256 (the commitment) is published
  then, so nobody can pick a salt later to favour someone.
* The participant list is hashed (user IDs in order, with whether each was left out of the draw);
  the hash is stored with the draw, so an added or removed participant is noticed.
* Picks come from SHA-256(seed ‖ counter) with the seed SHA-256(salt, raffle, week, participants hash).
  Each pick draws a 64-bit number and rejects the top slice that would favour low indexes (no modulo
  bias), then takes the person at that index of those not yet picked. A replacement winner is simply
  the next pick of the same stream: it can never be someone drawn before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence

SALT_BYTES = 32
_SPACE = 2 ** 64


def new_salt() -> str:
    return secrets.token_hex(SALT_BYTES)


def commitment(salt: str) -> str:
    """The SHA-256 of the salt, published when the raffle is set up."""
    return hashlib.sha256(salt.encode("ascii")).hexdigest()


def participants_hash(rows: Iterable[tuple[int, str]]) -> str:
    """SHA-256 of "user_id,left-out reason" lines in user order: the participant list as drawn."""
    digest = hashlib.sha256()
    for user_id, excluded in sorted(rows):
        digest.update(f"{user_id},{excluded}\n".encode())
    return digest.hexdigest()


def seed(salt: str, raffle: str, week_start: dt.date, list_hash: str) -> bytes:
    return hashlib.sha256("|".join((salt, raffle, week_start.isoformat(), list_hash)).encode()).digest()


def picks(seed_bytes: bytes, pool: Sequence[int], count: int) -> list[int]:
    """The first ``count`` people drawn from ``pool`` (sorted here), each never drawn twice."""
    remaining = sorted(pool)
    if count > len(remaining):
        raise ValueError(f"cannot draw {count} from {len(remaining)}")
    drawn, counter = [], 0
    while len(drawn) < count:
        size = len(remaining)
        limit = _SPACE - _SPACE % size  # numbers at or above it would favour the first indexes
        while True:
            number = int.from_bytes(hashlib.sha256(seed_bytes + counter.to_bytes(8, "big")).digest()[:8], "big")
            counter += 1
            if number < limit:
                break
        drawn.append(remaining.pop(number % size))
    return drawn
