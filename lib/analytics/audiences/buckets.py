"""Which of 10,000 buckets a user falls in under a salt: the same number in NumPy, ClickHouse 18.16 and chDB.

A bucket is ``murmurHash3_32(bitXor(user_id, salt)) mod 10000``: ClickHouse hashes the eight
little-endian bytes of the UInt64, and :func:`buckets` does the same arithmetic over whole NumPy
arrays (no Python loop), so a split decided here can be re-checked by anyone in SQL
(:func:`bucket_sql`) and a racing second writer computes identical groups. The salt is a
UInt64: derived from the sub_id (:func:`salt_for`) unless given, and stored with the audience.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..db.sql import Identifier, compose

BUCKETS = 10_000
SLICE = 1 << 16  # IDs hashed per step: small enough to stay in the CPU cache
_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)


def salt_for(text: str) -> int:
    """A UInt64 salt derived from text (a sub_id): the first 8 bytes of its SHA-256, big-endian."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def murmur3_32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3 x86_32 (seed 0) of each UInt64's 8 little-endian bytes, as ClickHouse's ``murmurHash3_32(UInt64)``."""
    return _sliced(np.ascontiguousarray(values, dtype=np.uint64), np.uint32, _murmur_slice)


def _sliced(values: np.ndarray, kind: type, work: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``work`` over cache-sized slices on a few threads (NumPy releases the GIL): ten million IDs in a blink."""
    result = np.empty(len(values), dtype=kind)
    if len(values) < 4 * SLICE:
        result[:] = work(values)
        return result

    def one(start: int) -> None:
        result[start:start + SLICE] = work(values[start:start + SLICE])

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(one, range(0, len(values), SLICE)))
    return result


def _murmur_slice(values: np.ndarray) -> np.ndarray:
    halves = values.view(np.uint32).reshape(-1, 2)  # little-endian: the low 4 bytes first, as ClickHouse reads them
    hashed = np.zeros(len(values), np.uint32)
    block, spare = np.empty_like(hashed), np.empty_like(hashed)
    for column in (0, 1):
        np.multiply(halves[:, column], _C1, out=block)
        _rotate_left(block, 15, spare)
        np.multiply(block, _C2, out=block)
        np.bitwise_xor(hashed, block, out=hashed)
        _rotate_left(hashed, 13, spare)
        np.multiply(hashed, np.uint32(5), out=hashed)
        np.add(hashed, np.uint32(0xE6546B64), out=hashed)
    np.bitwise_xor(hashed, np.uint32(8), out=hashed)  # the key's length
    for shift, multiplier in ((16, _M1), (13, _M2), (16, None)):  # fmix32
        np.right_shift(hashed, np.uint32(shift), out=spare)
        np.bitwise_xor(hashed, spare, out=hashed)
        if multiplier is not None:
            np.multiply(hashed, multiplier, out=hashed)
    return hashed


def _rotate_left(values: np.ndarray, bits: int, spare: np.ndarray) -> None:
    np.left_shift(values, np.uint32(bits), out=spare)
    np.right_shift(values, np.uint32(32 - bits), out=values)
    np.bitwise_or(values, spare, out=values)


def buckets(user_ids: np.ndarray, salt: int) -> np.ndarray:
    """The bucket (0..9999) of every user under ``salt``, as uint16."""
    mixer = np.uint64(salt)

    def one(values: np.ndarray) -> np.ndarray:
        return (_murmur_slice(values ^ mixer) % np.uint32(BUCKETS)).astype(np.uint16)

    return _sliced(np.ascontiguousarray(user_ids, dtype=np.uint64), np.uint16, one)


def bucket_sql(user_id: Identifier, salt_param: str = "salt") -> str:
    """The same bucket in SQL, for a checked column and a bound ``%(salt)s`` parameter."""
    if not salt_param.isidentifier():
        raise ValueError(f"not a parameter name: {salt_param!r}")
    return compose("modulo(murmurHash3_32(bitXor(toUInt64({u}), toUInt64(%(" + salt_param + ")s))), 10000)", u=user_id)


def in_ranges(bucket: np.ndarray, ranges: list[tuple[int, int]]) -> np.ndarray:
    """Whether each bucket lies in one of the half-open ranges [start, stop)."""
    inside = np.zeros(bucket.shape, dtype=bool)
    for start, stop in ranges:
        inside |= (bucket >= start) & (bucket < stop)
    return inside


def bucket_of(user_id: int, salt: int) -> int:
    """One user's bucket in plain Python: the reference :func:`buckets` is checked against (and a benchmark's baseline)."""
    mask = 0xFFFFFFFF
    key = (user_id ^ salt) & 0xFFFFFFFFFFFFFFFF
    hashed = 0
    for block in (key & mask, key >> 32):
        block = (block * 0xCC9E2D51) & mask
        block = ((block << 15) | (block >> 17)) & mask
        block = (block * 0x1B873593) & mask
        hashed ^= block
        hashed = ((hashed << 13) | (hashed >> 19)) & mask
        hashed = (hashed * 5 + 0xE6546B64) & mask
    hashed ^= 8
    hashed ^= hashed >> 16
    hashed = (hashed * 0x85EBCA6B) & mask
    hashed ^= hashed >> 13
    hashed = (hashed * 0xC2B2AE35) & mask
    hashed ^= hashed >> 16
    return hashed % BUCKETS
